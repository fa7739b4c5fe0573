from . import test_install
from . import test_sync
from . import test_settings
from . import test_privacy
from . import test_privacy_rules
from . import test_templates
from . import test_outgoing
