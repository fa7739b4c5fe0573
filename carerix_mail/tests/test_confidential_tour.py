"""The lock of confidential mail in a real browser (Chromium).

The owner of an archived mail marks it confidential from the chatter of the
candidate; the whole conversation gets the lock. Another recruiter opening the
same candidate does not see the conversation, and gets no lock action.
"""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import (
    assert_screenshots,
    build_tour_assets,
    make_mail,
    screenshot_on_request,
    unique,
)

# Markers in the subjects and bodies, looked for by the tours.
PRIVATE = "TOURPRIVATE"
REPLY = "TOURREPLY"
PUBLIC = "TOURPUBLIC"
ASKED = "TOURASKED"
ANSWER = "TOURANSWER"


@tagged("post_install", "-at_install")
class TestConfidentialTour(HttpCase):
    browser_size = "1920x1080"

    def setUp(self):
        super().setUp()
        groups = "base.group_user,base.group_partner_manager"
        self.owner_login = unique("lockowner")
        self.owner = new_test_user(
            self.env,
            login=self.owner_login,
            name="Olivia Owner",
            email=f"{self.owner_login}@agency.example",
            groups=groups,
        )
        self.other_login = unique("lockother")
        new_test_user(
            self.env,
            login=self.other_login,
            name="Oscar Other",
            email=f"{self.other_login}@agency.example",
            groups=groups,
        )
        self.candidate = self.env["res.partner"].create(
            {"name": "Carla Candidate", "email": "carla@candidate.example"}
        )
        box = self.owner._carerix_mailbox(create=True)
        Entry = self.env["carerix.mailbox.message"]
        sender = "Carla Candidate <carla@candidate.example>"
        mail_id = f"<{unique('offer')}@candidate.example>"
        self.private_entry = Entry._archive_raw(
            box,
            make_mail(
                sender,
                self.owner.email,
                f"About the offer {PRIVATE}",
                f"{PRIVATE}BODY: my current salary is low.",
                message_id=mail_id,
            ),
            "incoming",
        )
        self.reply_entry = Entry._archive_raw(
            box,
            make_mail(
                self.owner.email,
                sender,
                f"Thanks {REPLY}",
                f"{REPLY}BODY: thank you, I will keep this between us.",
                in_reply_to=mail_id,
            ),
            "outgoing",
        )
        self.public_entry = Entry._archive_raw(
            box,
            make_mail(
                sender,
                self.owner.email,
                f"Interview next week {PUBLIC}",
                f"{PUBLIC}BODY: Tuesday at ten suits me.",
            ),
            "incoming",
        )
        for entry in (self.private_entry, self.reply_entry, self.public_entry):
            on_candidate = entry.copy_ids.filtered(lambda m: m.model == "res.partner")
            self.assertEqual(on_candidate.res_id, self.candidate.id)
            self.assertEqual(entry.copy_ids.mapped("carerix_confidential"), [False] * 2)

    def owner_then_other(self, owner_tour, other_tour, screenshots, check):
        """On the candidate: ``owner_tour`` as the owner, then ``check()``,
        then ``other_tour`` as the other recruiter; the tours asked for
        exactly the ``screenshots``."""
        build_tour_assets(self.env)
        url = f"/odoo/res.partner/{self.candidate.id}"
        futures = {}
        with screenshot_on_request(futures):
            self.start_tour(url, owner_tour, login=self.owner_login)
            self.env.invalidate_all()
            check()
            self.start_tour(url, other_tour, login=self.other_login)
        assert_screenshots(self, futures, screenshots)

    def test_owner_locks_the_conversation_other_recruiter_does_not_see_it(self):
        def check():
            private = self.private_entry.copy_ids | self.reply_entry.copy_ids
            # every copy of the mail and of its reply
            self.assertEqual(private.mapped("carerix_confidential"), [True] * 4)
            self.assertEqual(private.carerix_owner_id, self.owner)
            self.assertEqual(
                (self.private_entry | self.reply_entry).mapped("confidential"),
                [True, True],
            )
            self.assertFalse(
                any(self.public_entry.copy_ids.mapped("carerix_confidential"))
            )
            self.assertFalse(self.public_entry.confidential)

        self.owner_then_other(
            "carerix_mail_confidential_owner",
            "carerix_mail_confidential_other",
            {
                "confidential_action",
                "confidential_owner_chatter",
                "confidential_other_chatter",
            },
            check,
        )

    def test_reply_from_the_chatter_is_offered_confidential(self):
        box = self.owner._carerix_mailbox()
        box.write({"host": "imap.agency.example", "from_address": self.owner.email})
        asked = self.env["carerix.mailbox.message"]._archive_raw(
            box,
            make_mail(
                "Carla Candidate <carla@candidate.example>",
                self.owner.email,
                f"Vertrouwelijk: {ASKED}",
                f"{ASKED}BODY: what would the salary be?",
            ),
            "incoming",
        )
        self.assertTrue(asked.confidential)

        def check():
            answer = self.env["mail.message"].search(
                [("body", "ilike", f"{ANSWER}BODY")]
            )
            self.assertEqual(len(answer), 1)
            self.assertTrue(answer.carerix_confidential)
            self.assertEqual(answer.carerix_owner_id, self.owner)
            self.assertEqual(
                answer.parent_id,
                asked.copy_ids.filtered(lambda m: m.model == "res.partner"),
            )

        self.owner_then_other(
            "carerix_mail_confidential_reply_owner",
            "carerix_mail_confidential_reply_other",
            {
                "confidential_reply_composer",
                "confidential_reply_sent",
                "confidential_reply_other",
            },
            check,
        )
