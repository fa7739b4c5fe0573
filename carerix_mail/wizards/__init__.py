from . import carerix_mailbox_folder_wizard
