from . import carerix_mailbox_message
from . import carerix_cv
from . import ir_attachment_rtf
from . import hr_candidate
from . import res_company
from . import res_config_settings
