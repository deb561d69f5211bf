//! Small widget helpers shared by the pages.

use coffer_api::Passphrase;
use gtk::prelude::*;

/// Removes every child of a box.
pub fn clear_box(b: &gtk::Box) {
    while let Some(child) = b.first_child() {
        b.remove(&child);
    }
}

/// Removes every row of a list box.
pub fn clear_list(l: &gtk::ListBox) {
    while let Some(child) = l.first_child() {
        l.remove(&child);
    }
}

extern "C" {
    // In GTK since 4.0; gtk4-rs only binds it with its v4_10 feature, and Debian 12 has 4.8.
    fn gtk_accessible_update_property_value(
        accessible: *mut gtk::ffi::GtkAccessible,
        n_properties: std::ffi::c_int,
        properties: *const gtk::ffi::GtkAccessibleProperty,
        values: *const glib::gobject_ffi::GValue,
    );
}

/// Gives a widget an accessible label (for icon-only buttons and unlabelled entries).
#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
pub fn label_for_a11y(w: &impl IsA<gtk::Widget>, label: &str) {
    use glib::translate::ToGlibPtr;
    let value = label.to_value();
    let property = gtk::ffi::GTK_ACCESSIBLE_PROPERTY_LABEL;
    let widget: &gtk::Widget = w.upcast_ref();
    // SAFETY: every GtkWidget implements GtkAccessible; one property, one initialised value.
    unsafe {
        let ptr: *mut gtk::ffi::GtkWidget = widget.to_glib_none().0;
        gtk_accessible_update_property_value(
            ptr as *mut gtk::ffi::GtkAccessible,
            1,
            &property,
            ToGlibPtr::<*const glib::gobject_ffi::GValue>::to_glib_none(&value).0,
        );
    }
}

/// Gives the first descendant of type `T` under `root` that `pick` accepts an accessible
/// label: for parts that libadwaita 1.2 builds without a name, such as AdwPasswordEntryRow's
/// show-text button (an icon, announced as "GtkImage") or AdwPreferencesWindow's search entry.
pub fn label_descendant<T: IsA<gtk::Widget>>(
    root: &impl IsA<gtk::Widget>,
    pick: impl Fn(&T) -> bool,
    label: &str,
) {
    fn find<T: IsA<gtk::Widget>>(w: &gtk::Widget, pick: &dyn Fn(&T) -> bool) -> Option<T> {
        let mut child = w.first_child();
        while let Some(c) = child {
            if let Some(t) = c.downcast_ref::<T>().filter(|t| pick(t)) {
                return Some(t.clone());
            }
            if let Some(t) = find::<T>(&c, pick) {
                return Some(t);
            }
            child = c.next_sibling();
        }
        None
    }
    if let Some(t) = find::<T>(root.upcast_ref(), &pick) {
        label_for_a11y(&t, label);
    }
}

/// Names AdwPreferencesWindow's search entry, which libadwaita 1.2 leaves nameless.
pub fn label_search_entry(window: &impl IsA<gtk::Widget>) {
    label_descendant::<gtk::SearchEntry>(
        window,
        |_| true,
        &gettextrs::gettext("Search Preferences"),
    );
}

/// The window of a widget, for dialogs.
pub fn window_of(w: &impl IsA<gtk::Widget>) -> Option<gtk::Window> {
    w.root().and_then(|r| r.downcast::<gtk::Window>().ok())
}

/// Shows a modal message with one "OK" response.
pub fn message(parent: &impl IsA<gtk::Widget>, heading: &str, body: &str) {
    use adw::prelude::*;
    let d = adw::MessageDialog::new(window_of(parent).as_ref(), Some(heading), Some(body));
    d.add_response("ok", &gettextrs::gettext("_OK"));
    d.present();
}

/// Presents a message dialog and waits for the chosen response id. (AdwMessageDialog's own
/// `choose` needs libadwaita 1.3; Debian 12 has 1.2.)
pub async fn response(dialog: &adw::MessageDialog) -> String {
    use adw::prelude::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::task::{Poll, Waker};

    type Slot = Rc<RefCell<(Option<String>, Option<Waker>)>>;
    let slot: Slot = Rc::new(RefCell::new((None, None)));
    let s = slot.clone();
    dialog.connect_response(None, move |_, r| {
        let mut s = s.borrow_mut();
        s.0 = Some(r.to_string());
        if let Some(w) = s.1.take() {
            w.wake();
        }
    });
    dialog.present();
    std::future::poll_fn(|cx| {
        let mut s = slot.borrow_mut();
        match s.0.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

/// The widget name of the passphrase dialog, by which a UI test finds it.
const PASSPHRASE_DIALOG: &str = "coffer-passphrase";

/// Closes an open passphrase dialog (its caller sees a cancel), so a UI test can answer it.
#[cfg(feature = "test-hooks")]
pub fn close_passphrase_dialog() {
    use gtk::prelude::*;
    for w in gtk::Window::list_toplevels() {
        if w.widget_name() == PASSPHRASE_DIALOG {
            if let Some(d) = w.downcast_ref::<gtk::Window>() {
                d.close();
            }
        }
    }
}

/// Asks for a passphrase; `confirm` labels the button that goes on with it. None when
/// cancelled.
pub async fn ask_passphrase(
    parent: &impl IsA<gtk::Widget>,
    heading: &str,
    body: &str,
    confirm: &str,
    error: Option<&str>,
) -> Option<Passphrase> {
    use adw::prelude::*;
    use gettextrs::gettext;

    let d = adw::MessageDialog::new(window_of(parent).as_ref(), Some(heading), Some(body));
    let content = gtk::Box::new(gtk::Orientation::Vertical, 12);
    let entry = gtk::PasswordEntry::new();
    entry.set_show_peek_icon(true);
    entry.set_activates_default(true);
    entry.set_property("placeholder-text", gettext("Passphrase"));
    label_for_a11y(&entry, &gettext("Passphrase"));
    content.append(&entry);
    if let Some(error) = error {
        let l = gtk::Label::new(Some(error));
        l.add_css_class("error");
        l.set_wrap(true);
        content.append(&l);
    }
    d.set_extra_child(Some(&content));
    d.add_response("cancel", &gettext("_Cancel"));
    d.add_response("ok", confirm);
    d.set_response_appearance("ok", adw::ResponseAppearance::Suggested);
    d.set_default_response(Some("ok"));
    d.set_close_response("cancel");
    entry.grab_focus();
    d.set_widget_name(PASSPHRASE_DIALOG);
    // Read the entry while the dialog still exists (it is disposed after the response), and
    // clear it: nothing keeps the passphrase, and a cancelled one is wiped too.
    let text = std::rc::Rc::new(std::cell::RefCell::new(Passphrase::default()));
    let t = text.clone();
    d.connect_response(None, move |_, _| {
        *t.borrow_mut() = Passphrase::new(entry.text().to_string());
        entry.set_text("");
    });
    let r = response(&d).await;
    let text = text.take();
    (r == "ok").then_some(text)
}
