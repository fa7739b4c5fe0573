from odoo.tests import TransactionCase, tagged

from odoo.addons.carerix_mail import engine


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_module_installed(self):
        module = self.env["ir.module.module"].search([("name", "=", "carerix_mail")])
        self.assertEqual(module.state, "installed")
        self.assertEqual(module.latest_version, "18.0.1.0.0")

    def test_engine_importable_from_addon(self):
        self.assertTrue(callable(engine.ConnectionSettings))
        self.assertEqual(engine.default_port("imap", "ssl"), 993)
