from odoo.modules.module import get_manifest
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.carerix_mail import engine


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_module_installed(self):
        module = self.env["ir.module.module"].search([("name", "=", "carerix_mail")])
        self.assertEqual(module.state, "installed")
        self.assertEqual(module.latest_version, get_manifest("carerix_mail")["version"])

    def test_engine_importable_from_addon(self):
        self.assertTrue(callable(engine.ConnectionSettings))
        self.assertEqual(engine.default_port("imap", "ssl"), 993)

    def test_mailbox_created_for_internal_users_only(self):
        internal = new_test_user(self.env, login="inst_internal")
        portal = new_test_user(
            self.env, login="inst_portal", groups="base.group_portal"
        )
        Mailbox = self.env["carerix.mailbox"]
        self.assertEqual(Mailbox.search_count([("user_id", "=", internal.id)]), 1)
        self.assertEqual(Mailbox.search_count([("user_id", "=", portal.id)]), 0)
