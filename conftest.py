"""pytest glue shared by the engine tests and the Odoo tests (pytest-odoo)."""

import logging

import pytest

try:
    from odoo.modules import module as odoo_module
except ImportError:  # the engine tests run without Odoo
    odoo_module = None


class _TestModeImportFilter(logging.Filter):
    """pytest-odoo imports ``odoo.tests`` without Odoo's test mode (which
    would change how the addon's tests run), and Odoo then logs an error with
    a stack about business code importing the test framework: not what
    happens here."""

    def filter(self, record):
        return not record.getMessage().startswith("Importing test framework")


logging.getLogger("odoo.tests.common").addFilter(_TestModeImportFilter())


@pytest.fixture(autouse=True)
def _odoo_current_test(request):
    """Mark the running test the way Odoo's own test runner does.

    pytest-odoo does this for Odoo 19 and later only; on 18 ``ir.mail_server``
    would otherwise try a real SMTP connection when a test sends mail.
    """
    if odoo_module is None:
        yield
        return
    previous = odoo_module.current_test
    odoo_module.current_test = getattr(request, "instance", None) or request.node.name
    yield
    odoo_module.current_test = previous
