from . import carerix_mailbox_folder_wizard
from . import mail_compose_message
from . import carerix_mail_export_wizard
from . import carerix_mail_erase_wizard
