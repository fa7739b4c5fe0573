/** @odoo-module **/
/*
 * New mail appears in the open web client without a reload: the owner waits
 * on his Inbox; the Python test appends a mail to his mailbox on the server
 * and syncs it once the tour asks for the screenshot "push_waiting".
 */
import { registry } from "@web/core/registry";
import { screenshot } from "@carerix_mail/../tests/tours/tour_utils";

// Marker in the subject of the mail the test appends.
const MARKER = "TOURPUSH";

registry.category("web_tour.tours").add("carerix_mail_push_tour", {
    steps: () => [
        {
            content: "The Inbox is open",
            trigger: ".o-mail-Discuss",
            run() {
                // Gone after a reload: the last step checks it is still here.
                window.carerixNoReload = true;
            },
        },
        screenshot("push_waiting"),
        {
            content: "The new mail shows up in the Inbox",
            trigger: `.o-mail-Discuss .o-mail-Message:contains(${MARKER})`,
            timeout: 30000,
        },
        {
            content: "The Inbox counter counts it",
            trigger: ".o-mail-Mailbox:contains(Inbox) .badge:contains(1)",
        },
        {
            content: "Without a reload",
            trigger: "body",
            run() {
                if (!window.carerixNoReload) {
                    throw new Error("the page was reloaded");
                }
            },
        },
        screenshot("push_arrived"),
    ],
});
