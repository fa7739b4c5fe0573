/** @odoo-module **/
/*
 * A recruiter chooses his own outgoing server on his Email settings, saves,
 * clicks Test outgoing, then sends a standard message (a template) to a
 * candidate. The Python test checks that it reached the receiving side
 * through his server and was archived.
 *
 * window.carerixTourValues = {host, port, candidate} comes from the test.
 */
import { registry } from "@web/core/registry";
import {
    openEmailSettings,
    savePreferences,
    screenshot,
    values,
} from "@carerix_mail/../tests/tours/tour_utils";

const TEMPLATE = "Invitation to interview";

registry.category("web_tour.tours").add("carerix_mail_outgoing", {
    steps: () => [
        ...openEmailSettings(),
        {
            content: "Send through my own server",
            trigger: ".modal div[name=mailbox_smtp_mode] input[data-value=own]",
            run: "click",
        },
        {
            content: "Choose SSL/TLS: the port 465 is proposed",
            trigger: ".modal div[name=mailbox_smtp_security] input[data-value=ssl]",
            run: "click",
        },
        {
            content: "The port proposed is 465",
            trigger: ".modal div[name=mailbox_smtp_port] input:value(465)",
        },
        {
            content: "Back to STARTTLS",
            trigger: ".modal div[name=mailbox_smtp_security] input[data-value=starttls]",
            run: "click",
        },
        {
            content: "The port proposed is 587",
            trigger: ".modal div[name=mailbox_smtp_port] input:value(587)",
        },
        {
            // typed after the choices above: a pending edit does not race them
            content: "Outgoing mail server",
            trigger: ".modal div[name=mailbox_smtp_host] input",
            async run(helpers) {
                await helpers.edit(values().host);
            },
        },
        {
            content: "Outgoing port (a non-standard one here)",
            trigger: ".modal div[name=mailbox_smtp_port] input",
            async run(helpers) {
                await helpers.edit(String(values().port));
            },
        },
        {
            content: "The username defaults to the incoming one",
            trigger: ".modal div[name=mailbox_smtp_login] input[placeholder='Same as incoming']",
        },
        screenshot("outgoing_settings"),
        ...savePreferences(),
        ...openEmailSettings(),
        {
            content: "Test outgoing",
            trigger: ".modal button[name=action_mailbox_test_outgoing]",
            run: "click",
        },
        {
            content: "The outgoing server works; nothing was sent",
            trigger: ".o_notification:contains(Outgoing server works):contains(Nothing was sent)",
        },
        screenshot("outgoing_test"),
        {
            content: "Go to the candidate",
            trigger: "body",
            run() {
                window.location.href = `/odoo/contacts/${values().candidate}`;
            },
        },
        {
            content: "Standard message",
            trigger: ".o_form_view button:contains(Standard message)",
            run: "click",
        },
        {
            content: "Open the templates",
            trigger: ".modal .mail-composer-template-dropdown-btn",
            run: "click",
        },
        {
            content: "Choose the template",
            trigger: `.mail-composer-template-dropdown .dropdown-item:contains(${TEMPLATE})`,
            run: "click",
        },
        {
            content: "The template filled in the subject",
            trigger: ".modal div[name=subject] input",
            run() {
                if (!this.anchor.value.includes("interview")) {
                    throw new Error(`subject ${this.anchor.value}`);
                }
            },
        },
        {
            content: "Send",
            trigger: ".modal .modal-footer button.o_mail_send",
            run: "click",
        },
        {
            content: "The mail is in the candidate's chatter",
            trigger: ".o-mail-Message:contains(Invitation to an interview)",
        },
        screenshot("outgoing_sent"),
    ],
});
