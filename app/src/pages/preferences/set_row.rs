//! One backup drive's settings in the preferences, bound to its [`BackupItem`]: automatic
//! backup on plug-in, the snapshot age limit, the drive check reminder, its datasets, and
//! Forget. Every change is saved with Configure at once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::options::Settings;
use gettextrs::gettext;
use gtk::{glib, CompositeTemplate};

use crate::i18n::gettext_f;
use crate::model::BackupItem;
use crate::{client, model, widgets};

/// How long a spin button must rest before its value is saved, so typing "120" sends one
/// Configure, not three.
const SPIN_SETTLE: std::time::Duration = std::time::Duration::from_millis(600);

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "set_row.ui")]
    pub struct SetRow {
        #[template_child]
        pub auto_switch: TemplateChild<gtk::Switch>,
        #[template_child]
        pub age_spin: TemplateChild<gtk::SpinButton>,
        #[template_child]
        pub scrub_spin: TemplateChild<gtk::SpinButton>,
        #[template_child]
        pub forget_row: TemplateChild<adw::ActionRow>,
        pub id: RefCell<String>,
        /// Set while the row shows the set's values, which are not changes to save.
        pub showing: Cell<bool>,
        /// Saves waiting for a spin button to rest, by setting.
        pub pending: RefCell<HashMap<&'static str, glib::SourceId>>,
        /// The dataset rows' check buttons, by dataset.
        pub dataset_checks: RefCell<Vec<(String, gtk::CheckButton)>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for SetRow {
        const NAME: &'static str = "CofferSetRow";
        type Type = super::SetRow;
        type ParentType = adw::ExpanderRow;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
            klass.bind_template_instance_callbacks();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for SetRow {}
    impl WidgetImpl for SetRow {}
    impl ListBoxRowImpl for SetRow {}
    impl PreferencesRowImpl for SetRow {}
    impl ExpanderRowImpl for SetRow {}
}

glib::wrapper! {
    pub struct SetRow(ObjectSubclass<imp::SetRow>)
        @extends adw::ExpanderRow, adw::PreferencesRow, gtk::ListBoxRow, gtk::Widget,
        @implements gtk::Actionable, gtk::Buildable, gtk::ConstraintTarget;
}

#[gtk::template_callbacks]
impl SetRow {
    pub fn new(item: &BackupItem) -> Self {
        let row: Self = glib::Object::new();
        row.show(item);
        row
    }

    #[template_callback]
    fn on_auto_toggled(&self) {
        let auto_backup = Some(self.imp().auto_switch.is_active());
        self.save(Settings {
            auto_backup,
            ..Default::default()
        });
    }

    #[template_callback]
    fn on_age_changed(&self, spin: &gtk::SpinButton) {
        self.save_when_resting("age", spin, |v| Settings {
            snapshot_max_age_hours: Some(v),
            ..Default::default()
        });
    }

    #[template_callback]
    fn on_scrub_changed(&self, spin: &gtk::SpinButton) {
        self.save_when_resting("scrub", spin, |v| Settings {
            scrub_interval_days: Some(v),
            ..Default::default()
        });
    }

    #[template_callback]
    fn on_forget_clicked(&self) {
        let id = self.imp().id.borrow().clone();
        let this = self.clone();
        crate::spawn::spawn(async move {
            let Some(window) = this.window() else {
                return Ok(());
            };
            let d = adw::MessageDialog::new(
                Some(&window),
                Some(&gettext("Forget This Drive?")),
                Some(&gettext(
                    "Coffer stops backing up to it. The backup on the drive is not erased.",
                )),
            );
            d.add_response("cancel", &gettext("_Cancel"));
            d.add_response("forget", &gettext("_Forget"));
            d.set_response_appearance("forget", adw::ResponseAppearance::Destructive);
            d.set_close_response("cancel");
            if widgets::response(&d).await != "forget" {
                return Ok(());
            }
            let result = async {
                let c = client::get().await?;
                c.helper.forget(&id).await
            }
            .await;
            if let Err(e) = result {
                window.add_toast(adw::Toast::new(&client::Failure::from(e).message));
            }
            // The set leaves the model's list, and with it this row.
            model::get().refresh().await;
            Ok(())
        });
    }

    /// Shows the set's values; the label follows the item.
    fn show(&self, item: &BackupItem) {
        let imp = self.imp();
        let set = item.set();
        imp.id.replace(set.id.clone());
        item.bind_property("label", self, "title")
            .transform_to(|_, label: String| Some(glib::markup_escape_text(&label).to_string()))
            .sync_create()
            .build();
        // libadwaita 1.2 names only the expander's inner header row, not its own row.
        widgets::label_for_a11y(self, &item.property::<String>("label"));
        let weak = self.downgrade();
        item.connect_notify_local(Some("label"), move |item, _| {
            if let Some(row) = weak.upgrade() {
                widgets::label_for_a11y(&row, &item.property::<String>("label"));
            }
        });
        ExpanderRowExt::set_subtitle(
            self,
            &glib::markup_escape_text(&if set.drive_serial.is_empty() {
                gettext_f("Pool {pool}", &[("pool", &set.pool_name)])
            } else {
                gettext_f(
                    "Serial number {serial} · pool {pool}",
                    &[("serial", &set.drive_serial), ("pool", &set.pool_name)],
                )
            }),
        );
        imp.showing.set(true);
        imp.auto_switch.set_active(set.auto_backup);
        imp.age_spin
            .set_value(f64::from(set.snapshot_max_age_hours));
        imp.scrub_spin.set_value(f64::from(set.scrub_interval_days));
        // Every local source, ticked when in this set.
        for src in &model::get().sources() {
            let check = gtk::CheckButton::new();
            check.set_valign(gtk::Align::Center);
            check.set_active(set.datasets.iter().any(|d| d.0 == src.name));
            let title = gettext_f("Back Up {dataset}", &[("dataset", &src.name)]);
            let unencrypted = src.encryption.is_empty() || src.encryption == "off";
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&title))
                .subtitle(if unencrypted {
                    gettext("Not encrypted here: encrypted on the drive")
                } else {
                    gettext("Encrypted")
                })
                .activatable_widget(&check)
                .build();
            widgets::label_for_a11y(&check, &title);
            row.add_prefix(&check);
            check.connect_toggled(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.save_datasets()
            ));
            self.add_row(&row);
            imp.dataset_checks
                .borrow_mut()
                .push((src.name.clone(), check));
        }
        self.add_row(&imp.forget_row.get());
        imp.showing.set(false);
    }

    fn save_when_resting(
        &self,
        key: &'static str,
        spin: &gtk::SpinButton,
        setting: fn(u32) -> Settings,
    ) {
        if self.imp().showing.get() {
            return;
        }
        let value = u32::try_from(spin.value_as_int()).unwrap_or(0);
        let source = glib::timeout_add_local_once(
            SPIN_SETTLE,
            glib::clone!(
                #[weak(rename_to = t)]
                self,
                move || {
                    t.imp().pending.borrow_mut().remove(key);
                    t.save(setting(value));
                }
            ),
        );
        if let Some(old) = self.imp().pending.borrow_mut().insert(key, source) {
            old.remove();
        }
    }

    fn save_datasets(&self) {
        let chosen: Vec<String> = self
            .imp()
            .dataset_checks
            .borrow()
            .iter()
            .filter(|(_, check)| check.is_active())
            .map(|(name, _)| name.clone())
            .collect();
        if chosen.is_empty() {
            self.toast(&gettext("Keep at least one dataset."));
            return;
        }
        self.save(Settings {
            datasets: Some(chosen),
            ..Default::default()
        });
    }

    fn save(&self, settings: Settings) {
        if self.imp().showing.get() {
            return;
        }
        let id = self.imp().id.borrow().clone();
        let this = self.clone();
        crate::spawn::spawn(async move {
            let result = async {
                let c = client::get().await?;
                c.helper.configure(&id, &settings).await
            }
            .await;
            match result {
                Ok(_) => model::get().refresh().await,
                Err(e) => this.toast(&gettext_f(
                    "Not saved: {reason}",
                    &[("reason", &client::Failure::from(e).message)],
                )),
            }
            Ok(())
        });
    }

    /// The preferences window this row is in, whose toasts are its own.
    fn window(&self) -> Option<adw::PreferencesWindow> {
        WidgetExt::root(self).and_downcast::<adw::PreferencesWindow>()
    }

    fn toast(&self, text: &str) {
        if let Some(w) = self.window() {
            w.add_toast(adw::Toast::new(text));
        }
    }
}
