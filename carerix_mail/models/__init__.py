from . import carerix_mailbox
from . import carerix_mailbox_folder
from . import carerix_mailbox_uidl
from . import carerix_mailbox_message
from . import mail_message
from . import res_partner
from . import res_users
