from . import test_archive
from . import test_templates
from . import test_refuse
from . import test_sync
from . import test_export
from . import test_retention
from . import test_erase
