"""*Export this person's mail*: the ZIP holds exactly the person's mail (from
him, to him, in Cc; private mail of two owners; a mail stored raw) and nothing
of other people; its ``.eml`` files parse and carry the attachments; only the
*Data protection* group gets it, and the export is audited."""

import csv
import email
import io
import zipfile
from email.policy import default

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from .common import make_mail

PERSON = "piet@mail.example"
DP_GROUPS = "base.group_user,carerix_mail.group_data_protection"
RECRUITER_GROUPS = "base.group_user,base.group_partner_manager"


def read_zip(data):
    """``(index rows, [parsed eml])`` of an export ZIP."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
    mails = [
        email.message_from_bytes(archive.read(row["file"]), policy=default)
        for row in rows
    ]
    return rows, mails


class ExportCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.owner = new_test_user(
            env, login="exp_owner", name="Owner One", groups=RECRUITER_GROUPS
        )
        cls.owner2 = new_test_user(
            env, login="exp_owner2", name="Owner Two", groups=RECRUITER_GROUPS
        )
        cls.recruiter = new_test_user(
            env, login="exp_other", name="Other recruiter", groups=RECRUITER_GROUPS
        )
        cls.dp = new_test_user(env, login="exp_dp", name="Privacy", groups=DP_GROUPS)
        cls.portal = new_test_user(
            env, login="exp_portal", name="Portal", groups="base.group_portal"
        )
        cls.box = cls.owner._carerix_mailbox(create=True)
        cls.box2 = cls.owner2._carerix_mailbox(create=True)
        cls.person = env["res.partner"].create({"name": "Piet", "email": PERSON})
        cls.other = env["res.partner"].create(
            {"name": "Klaas", "email": "klaas@other.example"}
        )
        cls.Entry = env["carerix.mailbox.message"]
        cls._archive_all()

    @classmethod
    def archive(cls, box, sender, to, subject, direction="incoming", **kwargs):
        raw = make_mail(sender, to, subject, body=f"{subject} body", **kwargs)
        return cls.Entry._archive_raw(box, raw, direction)

    @classmethod
    def _archive_all(cls):
        o1, o2 = cls.owner.email, cls.owner2.email
        cv = ("cv piet.pdf", b"%PDF-1.4 PLANTCV", "application/pdf")
        cls.mine = [
            cls.archive(cls.box, f"Piet <{PERSON}>", o1, "PLANTA cv", attachments=[cv]),
            cls.archive(cls.box, o1, PERSON, "PLANTB interview", "outgoing"),
            cls.archive(cls.box2, "klaas@other.example", o2, "PLANTC", cc=PERSON),
        ]
        raw = make_mail(f"Piet <{PERSON}>", o2, "PLANTD private", body="PLANTD")
        cls.mine.append(
            cls.Entry._archive_batch(cls.box2, [(raw, {"confidential": True})])[0]
        )
        cls.raw_original = make_mail(o2, PERSON, "PLANTE raw", body="PLANTE body")
        cls.mine.append(
            cls.Entry._store_raw_only(
                cls.box2, cls.raw_original, "outgoing", reason="test"
            )
        )
        cls.others = [
            cls.archive(cls.box, "klaas@other.example", o1, "OTHERX klaas"),
            cls.archive(cls.box2, "notpiet@mail.example", o2, "OTHERY lookalike"),
            cls.archive(cls.box, "piet@mail.example.org", o1, "OTHERZ lookalike"),
        ]
        assert all(cls.mine) and all(cls.others)
        assert cls.mine[3].confidential


@tagged("post_install", "-at_install")
class TestExport(ExportCase):
    def export(self, user=None, **vals):
        vals.setdefault("partner_ids", [(6, 0, self.person.ids)])
        Wizard = self.env["carerix.mail.export.wizard"].with_user(user or self.dp)
        return Wizard.create(vals)._carerix_export()

    def test_export_holds_exactly_the_persons_mail(self):
        name, data = self.export()
        self.assertTrue(name.endswith(".zip"))
        rows, mails = read_zip(data)
        self.assertEqual(
            sorted(row["subject"] for row in rows),
            sorted(entry.subject for entry in self.mine),
        )
        self.assertEqual({row["owner"] for row in rows}, {"Owner One", "Owner Two"})
        content = data + b"".join(m.as_bytes() for m in mails)
        for word in (b"OTHERX", b"OTHERY", b"OTHERZ"):
            self.assertNotIn(word, content)
        bodies = b"".join(mail.as_bytes() for mail in mails)
        for word in (b"PLANTA", b"PLANTB", b"PLANTC", b"PLANTD", b"PLANTE body"):
            self.assertIn(word, bodies)

    def test_eml_files_parse_with_headers_and_attachments(self):
        _name, data = self.export()
        rows, mails = read_zip(data)
        by_subject = {mail["Subject"]: mail for mail in mails}
        cv_mail = by_subject["PLANTA cv"]
        self.assertEqual(cv_mail["From"].addresses[0].addr_spec, PERSON)
        self.assertEqual(
            cv_mail["Message-ID"].strip("<>"), self.mine[0].message_id_header
        )
        self.assertIn("PLANTA cv body", cv_mail.get_body(("html",)).get_content())
        attachments = [
            (p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
            for p in cv_mail.iter_attachments()
        ]
        self.assertEqual(
            attachments, [("cv piet.pdf", "application/pdf", b"%PDF-1.4 PLANTCV")]
        )
        self.assertEqual(by_subject["PLANTC"]["Cc"], PERSON)
        private = [row for row in rows if row["subject"] == "PLANTD private"]
        self.assertEqual(private[0]["confidential"], "True")
        # the raw mail is its original, byte for byte
        archive = zipfile.ZipFile(io.BytesIO(data))
        raw_row = [row for row in rows if row["subject"] == "PLANTE raw"][0]
        self.assertEqual(archive.read(raw_row["file"]), self.raw_original)

    def test_typed_address_finds_the_same_mail(self):
        _name, by_partner = self.export()
        _name, typed = self.export(partner_ids=[], extra_emails=" PIET@Mail.Example ")
        self.assertEqual(
            sorted(r["file"] for r in read_zip(typed)[0]),
            sorted(r["file"] for r in read_zip(by_partner)[0]),
        )

    def test_export_is_audited(self):
        Log = self.env["carerix.mail.privacy.log"]
        before = Log.search([])
        self.export()
        log = Log.search([]) - before
        self.assertEqual(log.action, "export")
        self.assertEqual(log.user_id, self.dp)
        self.assertEqual(log.entry_count, 5)
        self.assertEqual(log.owner_count, 2)
        self.assertEqual(log.attachment_count, 2)  # the CV and the raw original
        self.assertTrue(log.person_ref)
        self.assertNotIn("piet", log.person_ref)

    def test_others_get_access_error(self):
        for user in (self.recruiter, self.owner, self.portal):
            with self.subTest(user=user.login):
                Wizard = self.env["carerix.mail.export.wizard"].with_user(user)
                with self.assertRaises(AccessError):
                    Wizard.create({"extra_emails": PERSON})
                with self.assertRaises(AccessError):
                    self.Entry.with_user(user)._carerix_export_zip(self.Entry.browse())
        # another member of the group cannot download an export made by this one
        wizard = (
            self.env["carerix.mail.export.wizard"]
            .with_user(self.dp)
            .create({"extra_emails": PERSON})
        )
        dp2 = new_test_user(self.env, login="exp_dp2", groups=DP_GROUPS)
        with self.assertRaises(AccessError):
            wizard.with_user(dp2)._carerix_export()

    def test_bound_action_on_contacts_is_for_the_group_only(self):
        action = self.env.ref("carerix_mail.carerix_mail_export_wizard_action_partner")
        self.assertEqual(action.binding_model_id.model, "res.partner")
        self.assertEqual(
            action.groups_id, self.env.ref("carerix_mail.group_data_protection")
        )
        wizard = (
            self.env["carerix.mail.export.wizard"]
            .with_user(self.dp)
            .with_context(active_model="res.partner", active_ids=self.person.ids)
            .create({})
        )
        self.assertEqual(wizard.partner_ids, self.person)
        self.assertEqual(wizard.entry_count, 5)


@tagged("post_install", "-at_install")
class TestExportDownload(HttpCase):
    """The download: a ZIP for the user who prepared it, no stored copy."""

    def test_download(self):
        dp = new_test_user(self.env, login="exp_http_dp", groups=DP_GROUPS)
        new_test_user(self.env, login="exp_http_rec", groups=RECRUITER_GROUPS)
        box = dp._carerix_mailbox(create=True)
        raw = make_mail(f"Piet <{PERSON}>", dp.email, "PLANTHTTP")
        self.env["carerix.mailbox.message"]._archive_raw(box, raw)
        attachments = self.env["ir.attachment"].search_count([])
        wizard = (
            self.env["carerix.mail.export.wizard"]
            .with_user(dp)
            .create({"extra_emails": PERSON})
        )
        url = f"/carerix_mail/export/{wizard.id}"
        self.authenticate("exp_http_rec", "exp_http_rec")
        self.assertEqual(self.url_open(url).status_code, 403)
        self.authenticate("exp_http_dp", "exp_http_dp")
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/zip")
        rows, _mails = read_zip(response.content)
        self.assertEqual([row["subject"] for row in rows], ["PLANTHTTP"])
        self.assertEqual(self.env["ir.attachment"].search_count([]), attachments)
