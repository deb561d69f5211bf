//! One row of the file list. The list view recycles rows as it scrolls, so a row holds only
//! widgets and the entry it shows right now; whether that entry is ticked lives in the browser.

use std::cell::RefCell;
use std::path::PathBuf;

use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gio, glib, CompositeTemplate};

/// What a bound row stands for: its path relative to the snapshot root, and whether it is a
/// folder.
pub type Bound = (PathBuf, bool);

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "file_row.ui")]
    pub struct FileRow {
        #[template_child]
        pub check: TemplateChild<gtk::CheckButton>,
        #[template_child]
        pub icon: TemplateChild<gtk::Image>,
        #[template_child]
        pub title: TemplateChild<gtk::Label>,
        #[template_child]
        pub subtitle: TemplateChild<gtk::Label>,
        #[template_child]
        pub next: TemplateChild<gtk::Image>,
        pub bound: RefCell<Option<Bound>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for FileRow {
        const NAME: &'static str = "CofferFileRow";
        type Type = super::FileRow;
        type ParentType = gtk::Box;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for FileRow {}
    impl WidgetImpl for FileRow {}
    impl BoxImpl for FileRow {}
}

glib::wrapper! {
    pub struct FileRow(ObjectSubclass<imp::FileRow>)
        @extends gtk::Box, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget, gtk::Orientable;
}

impl Default for FileRow {
    fn default() -> Self {
        glib::Object::new()
    }
}

impl FileRow {
    pub fn check(&self) -> gtk::CheckButton {
        self.imp().check.get()
    }

    pub fn bound(&self) -> Option<Bound> {
        self.imp().bound.borrow().clone()
    }

    /// Shows one entry; `hidden` dims it as file managers dim dotfiles.
    pub fn show(&self, bound: Bound, title: &str, subtitle: &str, icon: &gio::Icon, hidden: bool) {
        let imp = self.imp();
        let is_dir = bound.1;
        imp.bound.replace(Some(bound));
        imp.title.set_label(title);
        imp.subtitle.set_label(subtitle);
        imp.icon.set_from_gicon(icon);
        imp.next.set_visible(is_dir);
        for w in [imp.title.upcast_ref::<gtk::Widget>(), imp.icon.upcast_ref()] {
            if hidden {
                w.add_css_class("dim-label");
            } else {
                w.remove_css_class("dim-label");
            }
        }
    }

    pub fn title(&self) -> glib::GString {
        self.imp().title.label()
    }

    /// Forgets the entry, so a recycled row never acts for the one it showed before.
    pub fn clear(&self) {
        self.imp().bound.replace(None);
    }
}
