from . import applicant_get_refuse_reason
