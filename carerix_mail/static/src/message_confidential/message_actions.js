import { messageActionsRegistry } from "@mail/core/common/message_actions";
import { _t } from "@web/core/l10n/translation";

// Lock action of confidential mail: only the owner of an archived mail sees it.
// The server flips the whole conversation and refuses anyone but the owner.
messageActionsRegistry.add("carerix-confidential", {
    condition: (component) => Boolean(component.props.message.carerix_is_owner),
    icon: (component) =>
        component.props.message.carerix_confidential ? "fa fa-unlock" : "fa fa-lock",
    title: (component) =>
        component.props.message.carerix_confidential
            ? _t("Make public")
            : _t("Make confidential"),
    onClick: async (component) => {
        const message = component.props.message;
        const confidential = await component.env.services.orm.call(
            "mail.message",
            "action_carerix_toggle_confidential",
            [[message.id]]
        );
        message.carerix_confidential = confidential;
    },
    sequence: 65,
});
