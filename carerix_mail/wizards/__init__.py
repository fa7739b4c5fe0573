from . import carerix_mailbox_folder_wizard
from . import mail_compose_message
