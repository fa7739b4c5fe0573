from . import carerix_mailbox_message
