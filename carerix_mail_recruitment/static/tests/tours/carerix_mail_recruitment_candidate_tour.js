/** @odoo-module **/
/*
 * Create candidate from mail, then find his CV by its content.
 *
 * carerix_mail_recruitment_create_candidate: in My mail the recruiter opens
 * an unmatched mail of an unknown applicant carrying a PDF CV, clicks Create
 * candidate, checks what the wizard proposes (name from the sender, the CV
 * chosen, not the picture), picks a job and confirms: he lands on the new
 * candidate, with the mail in its chatter. Then he searches the applications
 * on "Resume's content" and the candidates on "CV content" with a word that
 * is only in the PDF: the new application and candidate are found, nothing
 * else.
 *
 * The names below are those of the mail and job the Python test makes.
 * A console line "carerix-screenshot:<name>" asks the test for a screenshot.
 */
import { registry } from "@web/core/registry";
import { screenshot } from "@carerix_mail/../tests/tours/tour_utils";

const SUBJECT = "TOURCANDIDATE Open application";
const NAME = "Piet Pieterse";
const CV = "cv-piet.pdf";
const JOB = "TOURJOB Airship pilot";
// only in the PDF
const WORD = "Luchtschipperij";
// the records of a list or kanban view
const RECORDS = ".o_list_view .o_data_row, .o_kanban_view .o_kanban_record:not(.o_kanban_ghost)";

/** Steps that search ``word`` on the field of the search view ``label``. */
function searchContent(word, label) {
    return [
        {
            content: `Type a word of the CV: ${word}`,
            trigger: ".o_searchview_input",
            run: `edit ${word}`,
        },
        {
            content: `Search it in ${label}`,
            trigger: `.o_searchview_autocomplete .o_menu_item:contains(${label})`,
            run: "click",
        },
        {
            content: "The search is applied",
            trigger: `.o_searchview_facet:contains(${word})`,
        },
    ];
}

/** Steps loading ``url`` (a new page) until its ``title`` is shown. */
function goTo(url, title) {
    return [
        {
            content: `Open ${title}`,
            trigger: "body",
            run() {
                document.body.classList.add("o_carerix_leaving");
                window.location.href = url;
            },
        },
        {
            content: `${title} are shown`,
            trigger: `body:not(.o_carerix_leaving) .o_breadcrumb:contains(${title})`,
        },
        {
            trigger: ".o_list_view .o_data_row, .o_kanban_view .o_kanban_record",
        },
    ];
}

/** A step checking that the list or kanban view shows ``name`` and no one else. */
function onlyRecord(name) {
    return {
        content: `Only ${name} is found`,
        trigger: `.o_list_view .o_data_row:contains(${name}), .o_kanban_view .o_kanban_record:contains(${name})`,
        run() {
            const cards = document.querySelectorAll(RECORDS);
            for (const card of cards) {
                if (!card.textContent.includes(name)) {
                    throw new Error(`found another record: ${card.textContent}`);
                }
            }
        },
    };
}

registry.category("web_tour.tours").add("carerix_mail_recruitment_create_candidate", {
    steps: () => [
        {
            content: "My mail lists the mail of the unknown applicant",
            trigger: `.o_data_row td[name=subject]:contains(${SUBJECT})`,
            run: "click",
        },
        {
            content: "The mail is open and offers Create candidate",
            trigger: ".o_form_view button[name=action_carerix_create_candidate]",
        },
        {
            content: "and a contact only with the other button",
            trigger: ".o_form_view button[name=action_create_partner_from_sender]:contains(Create contact from sender)",
        },
        {
            content: "Its CV is in the chatter",
            trigger: `.o-mail-Chatter .o-mail-AttachmentCard:contains(${CV})`,
        },
        screenshot("candidate_mail"),
        {
            content: "Create candidate",
            trigger: ".o_form_view button[name=action_carerix_create_candidate]",
            run: "click",
        },
        {
            content: "The name comes from the sender",
            trigger: `.modal .o_field_widget[name=partner_name] input:value(${NAME})`,
        },
        {
            content: "The CV is chosen",
            trigger: `.modal .o_field_widget[name=attachment_ids] .o_tag:contains(${CV})`,
        },
        {
            content: "The picture is not",
            trigger: ".modal .o_field_widget[name=attachment_ids]:not(:has(.o_tag:contains(.png)))",
        },
        {
            content: "Pick the job",
            trigger: ".modal .o_field_widget[name=job_id] input",
            run: `edit ${JOB}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-item > a:contains(${JOB})`,
            run: "click",
        },
        {
            trigger: `.modal .o_field_widget[name=job_id] input:value(${JOB})`,
        },
        screenshot("candidate_wizard"),
        {
            content: "Confirm",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The new candidate is open",
            trigger: `body:not(:has(.modal)) .o_form_view .o_field_widget[name=partner_name] input:value(${NAME})`,
        },
        {
            content: "with the mail in his chatter",
            trigger: `.o-mail-Chatter .o-mail-Message:contains(${SUBJECT})`,
        },
        screenshot("candidate_created"),
        ...goTo("/odoo/recruitment-applications", "Applications"),
        ...searchContent(WORD, "Resume"),
        onlyRecord(NAME),
        screenshot("candidate_applications_search"),
        ...goTo("/odoo/recruitment-candidates", "Candidates"),
        ...searchContent(WORD, "CV content"),
        onlyRecord(NAME),
        screenshot("candidate_candidates_search"),
    ],
});
