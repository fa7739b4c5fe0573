import { messageActionsRegistry } from "@mail/core/common/message_actions";
import { _t } from "@web/core/l10n/translation";

/**
 * Reads the confidential state of the messages shown next to ``message``
 * again: the server flips the whole conversation, which may include other
 * messages of the same thread (replies, copies).
 */
async function refreshConfidential(orm, message, thread) {
    const messages = new Map([[message.id, message]]);
    for (const other of thread?.messages || []) {
        if (Number.isInteger(other.id) && other.carerix_is_owner) {
            messages.set(other.id, other);
        }
    }
    const rows = await orm.searchRead(
        "mail.message",
        [["id", "in", [...messages.keys()]]],
        ["carerix_confidential"]
    );
    for (const row of rows) {
        messages.get(row.id).carerix_confidential = row.carerix_confidential;
    }
}

// Lock action of confidential mail: only the owner of an archived mail sees it.
// The server flips the whole conversation and refuses anyone but the owner.
messageActionsRegistry.add("carerix-confidential", {
    condition: (component) =>
        Boolean(component.props.message.carerix_is_owner) &&
        !component.props.message.is_transient,
    icon: (component) =>
        component.props.message.carerix_confidential ? "fa fa-unlock" : "fa fa-lock",
    title: (component) =>
        component.props.message.carerix_confidential
            ? _t("Make public")
            : _t("Make confidential"),
    onClick: async (component) => {
        const { message, thread } = component.props;
        const orm = component.env.services.orm;
        message.carerix_confidential = await orm.call(
            "mail.message",
            "action_carerix_toggle_confidential",
            [[message.id]]
        );
        await refreshConfidential(orm, message, thread);
    },
    // Right after "Add a Reaction": a quick action, also in the chatter.
    sequence: 25,
});

// Reply to an archived mail from the chatter of the record it is archived on:
// the full composer answers that mail, so that a reply inside a confidential
// conversation is offered confidential (and says why).
messageActionsRegistry.add("carerix-reply", {
    condition: (component) => {
        const { message, thread } = component.props;
        return (
            Boolean(message.carerix_is_owner) &&
            message.message_type === "email" &&
            Boolean(thread?.model) &&
            !["discuss.channel", "mail.box"].includes(thread.model)
        );
    },
    icon: "fa fa-reply",
    title: _t("Reply"),
    onClick: async (component) => {
        const { message, thread } = component.props;
        const author = message.author;
        const partnerIds =
            author?.type === "partner" && author.notEq(component.store.self)
                ? [author.id]
                : [];
        await component.env.services.action.doAction(
            {
                name: _t("Reply"),
                type: "ir.actions.act_window",
                res_model: "mail.compose.message",
                view_mode: "form",
                views: [[false, "form"]],
                target: "new",
                context: {
                    default_composition_mode: "comment",
                    default_model: thread.model,
                    default_res_ids: [thread.id],
                    default_parent_id: message.id,
                    default_partner_ids: partnerIds,
                    default_subtype_xmlid: "mail.mt_comment",
                },
            },
            { onClose: () => thread.fetchNewMessages() }
        );
    },
    // After the lock: in the chatter, in the "Expand" menu.
    sequence: 26,
});
