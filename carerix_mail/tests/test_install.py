import importlib.util
from collections import Counter

from odoo.modules.module import get_manifest
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools.misc import file_path

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

    def test_each_core_view_extended_once(self):
        ours = ("carerix_mail", "carerix_mail_recruitment")
        data = self.env["ir.model.data"].search(
            [("module", "in", ours), ("model", "=", "ir.ui.view")]
        )
        views = self.env["ir.ui.view"].browse(data.mapped("res_id"))
        extended = Counter(
            view.inherit_id.xml_id
            for view in views
            if view.inherit_id and view.inherit_id.xml_id.split(".")[0] not in ours
        )
        self.assertIn("base.view_partner_form", extended)
        self.assertEqual({xml_id for xml_id, n in extended.items() if n > 1}, set())

    def test_migration_renames_demo_xml_ids(self):
        """A database with the old demo xml ids keeps its demo records."""
        path = file_path("carerix_mail/migrations/18.0.1.0.1/pre-demo-xml-ids.py")
        spec = importlib.util.spec_from_file_location("demo_xml_ids", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        Data = self.env["ir.model.data"]
        # The test database may hold the demo data under its new names.
        Data.search(
            [("module", "=", "carerix_mail"), ("name", "=like", "%_demo")]
        ).unlink()
        partner = self.env["res.partner"].create({"name": "Old demo candidate"})
        other = self.env["res.partner"].create({"name": "Kept"})
        for name, record in (("partner_candidate_sem", partner), ("kept", other)):
            Data.create(
                {
                    "module": "carerix_mail",
                    "name": name,
                    "model": "res.partner",
                    "res_id": record.id,
                }
            )
        migration.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        self.assertEqual(
            self.env.ref("carerix_mail.partner_candidate_sem_demo"), partner
        )
        self.assertFalse(self.env.ref("carerix_mail.partner_candidate_sem", False))
        self.assertEqual(self.env.ref("carerix_mail.kept"), other)
