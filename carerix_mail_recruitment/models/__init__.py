from . import carerix_mailbox_message
from . import hr_candidate
from . import res_company
from . import res_config_settings
