//! Preferences: per backup drive (several in rotation) its datasets, automatic backup on
//! plug-in, the snapshot age threshold and the drive check reminder. Saved with Configure.

mod set_row;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{glib, CompositeTemplate};

use crate::model::{self, BackupItem};
use set_row::SetRow;

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "preferences.ui")]
    pub struct Preferences {
        #[template_child]
        pub sets: TemplateChild<gtk::ListBox>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Preferences {
        const NAME: &'static str = "CofferPreferences";
        type Type = super::Preferences;
        type ParentType = adw::PreferencesWindow;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
            klass.bind_template_instance_callbacks();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Preferences {
        fn constructed(&self) {
            self.parent_constructed();
            // One row per set in the model: a set added or forgotten adds or removes its
            // row, and a saved change keeps the row as it is (model::Model::refresh).
            self.sets.bind_model(Some(&model::get().backups()), |item| {
                match item.downcast_ref::<BackupItem>() {
                    Some(item) => SetRow::new(item).upcast(),
                    None => gtk::ListBoxRow::new().upcast(),
                }
            });
            if let Some(first) = self.sets.row_at_index(0).and_downcast::<SetRow>() {
                first.set_expanded(true);
            }
        }
    }
    impl WidgetImpl for Preferences {}
    impl WindowImpl for Preferences {}
    impl AdwWindowImpl for Preferences {}
    impl PreferencesWindowImpl for Preferences {}
}

glib::wrapper! {
    pub struct Preferences(ObjectSubclass<imp::Preferences>)
        @extends adw::PreferencesWindow, adw::Window, gtk::Window, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget, gtk::Native, gtk::Root,
            gtk::ShortcutManager;
}

// The Add Drive button calls this (preferences.ui).
#[gtk::template_callbacks]
impl Preferences {
    #[template_callback]
    fn on_add_clicked(&self) {
        let _ = self.activate_action("app.show-page", Some(&"onboarding:sources".to_variant()));
        self.close();
    }
}

pub fn show(parent: &crate::window::Window) {
    let prefs: Preferences = glib::Object::builder()
        .property("transient-for", parent)
        .build();
    crate::widgets::label_search_entry(&prefs);
    prefs.present();
}
