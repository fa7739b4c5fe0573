from . import carerix_mailbox_message
from . import carerix_cv
from . import ir_attachment_rtf
