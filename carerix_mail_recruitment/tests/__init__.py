from . import test_archive
from . import test_templates
from . import test_refuse
from . import test_sync
from . import test_cv
from . import test_candidate_from_mail
from . import test_candidate_tour
from . import test_cv_erase
