from . import applicant_get_refuse_reason
from . import carerix_mail_export_wizard
from . import carerix_mail_erase_wizard
from . import carerix_candidate_from_mail
