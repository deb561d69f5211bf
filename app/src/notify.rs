//! Desktop notifications (GNotification), with ids so stale ones can be withdrawn.

use gtk::gio;
use gtk::prelude::*;

pub fn plugged_id(backup_id: &str) -> String {
    format!("drive-plugged-{backup_id}")
}

pub fn result_id(backup_id: &str, operation: &str) -> String {
    format!("{operation}-{backup_id}")
}

/// Sends (or replaces) notification `id`. `buttons` are (label, detailed action).
pub fn send(
    app: &gio::Application,
    id: &str,
    title: &str,
    body: &str,
    default_action: Option<&str>,
    buttons: &[(String, String)],
) {
    let n = gio::Notification::new(title);
    n.set_body(Some(body));
    n.set_icon(&gio::ThemedIcon::new("drive-harddisk-usb-symbolic"));
    if let Some(action) = default_action {
        n.set_default_action(action);
    }
    for (label, action) in buttons {
        n.add_button(label, action);
    }
    app.send_notification(Some(id), &n);
}

pub fn withdraw(app: &gio::Application, id: &str) {
    app.withdraw_notification(id);
}
