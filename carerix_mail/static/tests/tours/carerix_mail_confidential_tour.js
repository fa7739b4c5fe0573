/** @odoo-module **/
/*
 * Confidential mail in the chatter of a candidate.
 *
 * carerix_mail_confidential_owner: the owner of an archived mail marks it
 * confidential with the lock action; the lock icon appears on the mail and on
 * the reply of the same conversation, the action turns into "Make public".
 *
 * carerix_mail_confidential_other: another recruiter opens the same candidate:
 * the public mail is there, the confidential conversation is not, and no lock
 * action is offered on the public mail.
 *
 * The markers below are in the subjects of the mails the Python test archives,
 * the same marker followed by "BODY" in their bodies (shown in a shadow DOM).
 * A console line "carerix-screenshot:<name>" asks the test for a screenshot.
 */
import { registry } from "@web/core/registry";
import { screenshot } from "@carerix_mail/../tests/tours/tour_utils";

const PRIVATE = "TOURPRIVATE";
const REPLY = "TOURREPLY";
const PUBLIC = "TOURPUBLIC";

function message(marker) {
    return `.o-mail-Message:contains(${marker})`;
}

/** The body of the mail with ``marker``, rendered in a shadow DOM. */
function body(marker) {
    return `${message(marker)} div:shadow :contains(${marker}BODY)`;
}

/** Text of the chatter's messages, with the mail bodies in their shadow DOM. */
function chatterText(chatter) {
    const parts = [];
    for (const element of chatter.querySelectorAll(".o-mail-Message")) {
        parts.push(element.textContent);
        for (const host of element.querySelectorAll("*")) {
            if (host.shadowRoot) {
                parts.push(host.shadowRoot.textContent);
            }
        }
    }
    return parts.join("\n");
}


/** A step that fails when the chatter shows one of ``markers``. */
function notShown(content, markers) {
    return {
        content,
        trigger: ".o-mail-Chatter",
        run() {
            const text = chatterText(this.anchor);
            for (const marker of markers) {
                if (text.includes(marker)) {
                    throw new Error(`${marker} is shown to another user`);
                }
            }
        },
    };
}

registry.category("web_tour.tours").add("carerix_mail_confidential_owner", {
    steps: () => [
        {
            content: "The chatter shows the archived mails",
            trigger: body(PUBLIC),
        },
        {
            trigger: body(PRIVATE),
        },
        {
            trigger: body(REPLY),
        },
        {
            content: "The mail is public: no lock icon",
            trigger: `${message(PRIVATE)}:not(:has(.o-carerix-Message-lock))`,
        },
        {
            content: "The reply is public too",
            trigger: `${message(REPLY)}:not(:has(.o-carerix-Message-lock))`,
        },
        {
            content: "Hover the mail: its owner gets the lock action",
            trigger: message(PRIVATE),
            run: "hover",
        },
        {
            trigger: `${message(PRIVATE)} button[name=carerix-confidential][title='Make confidential']`,
        },
        screenshot("confidential_action"),
        {
            content: "Mark the mail confidential",
            trigger: `${message(PRIVATE)} button[name=carerix-confidential]`,
            run: "click",
        },
        {
            content: "The mail shows the lock icon",
            trigger: `${message(PRIVATE)} .o-mail-Message-header .o-carerix-Message-lock`,
        },
        {
            content: "The whole conversation flipped: the reply too",
            trigger: `${message(REPLY)} .o-mail-Message-header .o-carerix-Message-lock`,
        },
        {
            content: "The other conversation stays public",
            trigger: `${message(PUBLIC)}:not(:has(.o-carerix-Message-lock))`,
        },
        {
            content: "The action now makes the mail public",
            trigger: message(PRIVATE),
            run: "hover",
        },
        {
            trigger: `${message(PRIVATE)} button[name=carerix-confidential][title='Make public']`,
        },
        {
            content: "Reload the page",
            trigger: "body",
            run() {
                document.body.classList.add("o_carerix_before_reload");
                window.location.reload();
            },
        },
        {
            content: "After a reload the conversation is still locked",
            trigger: `body:not(.o_carerix_before_reload) ${message(PRIVATE)} .o-carerix-Message-lock`,
        },
        {
            trigger: `${message(REPLY)} .o-carerix-Message-lock`,
        },
        {
            trigger: `${message(PUBLIC)}:not(:has(.o-carerix-Message-lock))`,
        },
        {
            content: "Hover the mail again",
            trigger: message(PRIVATE),
            run: "hover",
        },
        {
            trigger: `${message(PRIVATE)} button[name=carerix-confidential][title='Make public']`,
        },
        // The screenshot shows the lock icons and, on the hovered mail, the
        // action that makes the conversation public again.
        screenshot("confidential_owner_chatter"),
    ],
});

registry.category("web_tour.tours").add("carerix_mail_confidential_other", {
    steps: () => [
        {
            content: "The public mail is in the chatter, with its body",
            trigger: body(PUBLIC),
        },
        notShown(
            "The confidential mail and its reply are not, not even their body",
            [PRIVATE, REPLY]
        ),
        {
            content: "No lock icon anywhere",
            trigger: ".o-mail-Chatter:not(:has(.o-carerix-Message-lock))",
        },
        {
            content: "Hover the public mail",
            trigger: message(PUBLIC),
            run: "hover",
        },
        {
            content: "Its actions are shown, without the lock action",
            trigger: `${message(PUBLIC)} .o-mail-Message-actions:has(button[title='Add a Reaction']):not(:has(button[name=carerix-confidential]))`,
        },
        screenshot("confidential_other_chatter"),
    ],
});

/*
 * carerix_mail_confidential_reply_owner: the owner answers a confidential
 * mail from the chatter of the candidate (its Reply action opens the
 * composer): the Confidential box is offered ticked and says why, and the
 * answer is shown with the lock.
 *
 * carerix_mail_confidential_reply_other: another recruiter opening the same
 * candidate sees neither the mail nor the answer.
 */
const ASKED = "TOURASKED";
const ANSWER = "TOURANSWER";

registry.category("web_tour.tours").add("carerix_mail_confidential_reply_owner", {
    steps: () => [
        {
            content: "The confidential mail is in the chatter, locked",
            trigger: `${message(ASKED)} .o-carerix-Message-lock`,
        },
        {
            content: "Hover it",
            trigger: message(ASKED),
            run: "hover",
        },
        {
            content: "Open its other actions",
            trigger: `${message(ASKED)} .o-mail-Message-actions button[title=Expand]`,
            run: "click",
        },
        {
            content: "Reply to it",
            trigger: ".o-mail-Message-moreMenu [title=Reply]",
            run: "click",
        },
        {
            content: "The composer offers the mail confidential",
            trigger: ".modal .o_field_widget[name=carerix_confidential] input:checked",
        },
        {
            content: "and says why",
            trigger: ".modal .o-carerix-confidential-reason:contains(Reply in a confidential conversation)",
        },
        {
            content: "The subject is the mail's",
            trigger: `.modal .o_field_widget[name=subject] input:value(/${ASKED}/)`,
        },
        {
            content: "Write the answer",
            trigger: ".modal .o_field_widget[name=body] .odoo-editor-editable",
            run: `editor ${ANSWER}BODY: the salary stays between us.`,
        },
        screenshot("confidential_reply_composer"),
        {
            content: "Send it",
            trigger: ".modal .o_mail_send:visible",
            run: "click",
        },
        {
            content: "The answer is in the chatter, locked",
            trigger: `.o-mail-Message:contains(${ANSWER}BODY) .o-carerix-Message-lock`,
        },
        screenshot("confidential_reply_sent"),
    ],
});

registry.category("web_tour.tours").add("carerix_mail_confidential_reply_other", {
    steps: () => [
        {
            content: "The public mail is in the chatter",
            trigger: body(PUBLIC),
        },
        notShown("Neither the confidential mail nor the answer is", [ASKED, ANSWER]),
        screenshot("confidential_reply_other"),
    ],
});
