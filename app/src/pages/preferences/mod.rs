//! Preferences: per backup drive (several in rotation) its datasets, automatic backup on
//! plug-in, the snapshot age threshold and the drive check reminder. Saved with Configure.

use std::cell::RefCell;
use std::collections::HashMap;

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::options::Settings;
use coffer_api::BackupSet;
use gettextrs::gettext;
use gtk::{glib, CompositeTemplate};

use crate::i18n::gettext_f;
use crate::{client, model, widgets};

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "preferences.ui")]
    pub struct Preferences {
        #[template_child]
        pub drives_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub add_button: TemplateChild<gtk::Button>,
        pub rows: RefCell<Vec<adw::ExpanderRow>>,
        /// Pending spin-button saves, so typing "120" sends one Configure, not three.
        pub pending: RefCell<HashMap<String, glib::SourceId>>,
        /// Per backup set id: (dataset, its check button).
        pub dataset_checks: RefCell<HashMap<String, Vec<(String, gtk::CheckButton)>>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Preferences {
        const NAME: &'static str = "CofferPreferences";
        type Type = super::Preferences;
        type ParentType = adw::PreferencesWindow;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Preferences {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            self.add_button.connect_clicked(glib::clone!(
                #[weak]
                obj,
                move |_| {
                    let _ = obj
                        .activate_action("app.show-page", Some(&"onboarding:sources".to_variant()));
                    obj.close();
                }
            ));
            obj.fill();
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

pub fn show(parent: &crate::window::Window) {
    let prefs: Preferences = glib::Object::builder()
        .property("transient-for", parent)
        .build();
    prefs.present();
}

impl Preferences {
    fn fill(&self) {
        let imp = self.imp();
        for row in imp.rows.take() {
            imp.drives_group.remove(&row);
        }
        imp.dataset_checks.borrow_mut().clear();
        let m = model::get();
        let backups = m.backups.borrow().clone();
        let mut rows = vec![];
        for (i, set) in backups.iter().enumerate() {
            let row = self.set_row(set);
            row.set_expanded(i == 0);
            imp.drives_group.add(&row);
            rows.push(row);
        }
        *imp.rows.borrow_mut() = rows;
    }

    fn set_row(&self, set: &BackupSet) -> adw::ExpanderRow {
        let row = adw::ExpanderRow::builder()
            .title(glib::markup_escape_text(&set.label))
            .subtitle(glib::markup_escape_text(&if set.drive_serial.is_empty() {
                gettext_f("Pool {pool}", &[("pool", &set.pool_name)])
            } else {
                gettext_f(
                    "Serial number {serial} · pool {pool}",
                    &[("serial", &set.drive_serial), ("pool", &set.pool_name)],
                )
            }))
            .build();
        row.add_prefix(&gtk::Image::from_icon_name("drive-harddisk-usb-symbolic"));

        // Automatic backup on plug-in.
        let auto = gtk::Switch::new();
        auto.set_valign(gtk::Align::Center);
        auto.set_active(set.auto_backup);
        let auto_row = adw::ActionRow::builder()
            .title(gettext("Back Up When Plugged In"))
            .subtitle(gettext("Start a backup as soon as this drive is connected"))
            .activatable_widget(&auto)
            .build();
        widgets::label_for_a11y(&auto, &gettext("Back Up When Plugged In"));
        auto_row.add_suffix(&auto);
        let id = set.id.clone();
        auto.connect_active_notify(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |s| t.save(
                &id,
                Settings {
                    auto_backup: Some(s.is_active()),
                    ..Default::default()
                }
            )
        ));
        row.add_row(&auto_row);

        row.add_row(&self.spin_row(
            &set.id,
            |v| Settings {
                snapshot_max_age_hours: Some(v),
                ..Default::default()
            },
            &gettext("Snapshot Age Limit"),
            &gettext("Take a snapshot before backing up when the newest is older than this many hours (0: never)"),
            set.snapshot_max_age_hours,
            24 * 365,
        ));
        row.add_row(&self.spin_row(
            &set.id,
            |v| Settings {
                scrub_interval_days: Some(v),
                ..Default::default()
            },
            &gettext("Drive Check Reminder"),
            &gettext("Remind to check the drive after this many days (0: never)"),
            set.scrub_interval_days,
            365,
        ));

        // Datasets: every local source, ticked when in this set.
        for src in model::get().sources.borrow().iter() {
            let check = gtk::CheckButton::new();
            check.set_valign(gtk::Align::Center);
            check.set_active(set.datasets.iter().any(|d| d.0 == src.name));
            let unencrypted = src.encryption.is_empty() || src.encryption == "off";
            let dataset_row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&gettext_f(
                    "Back Up {dataset}",
                    &[("dataset", &src.name)],
                )))
                .subtitle(if unencrypted {
                    gettext("Not encrypted here: encrypted on the drive")
                } else {
                    gettext("Encrypted")
                })
                .activatable_widget(&check)
                .build();
            widgets::label_for_a11y(
                &check,
                &gettext_f("Back Up {dataset}", &[("dataset", &src.name)]),
            );
            dataset_row.add_prefix(&check);
            let id = set.id.clone();
            check.connect_toggled(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.save_datasets(&id)
            ));
            row.add_row(&dataset_row);
            self.imp()
                .dataset_checks
                .borrow_mut()
                .entry(set.id.clone())
                .or_default()
                .push((src.name.clone(), check));
        }

        let forget = gtk::Button::with_mnemonic(&gettext("_Forget This Drive"));
        forget.add_css_class("destructive-action");
        forget.set_valign(gtk::Align::Center);
        let forget_row = adw::ActionRow::builder()
            .title(gettext("Forget"))
            .subtitle(gettext(
                "Coffer stops using this drive. The data on it stays.",
            ))
            .build();
        forget_row.add_suffix(&forget);
        let id = set.id.clone();
        forget.connect_clicked(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |_| t.forget(&id)
        ));
        row.add_row(&forget_row);
        row
    }

    fn spin_row(
        &self,
        id: &str,
        setting: fn(u32) -> Settings,
        title: &str,
        subtitle: &str,
        value: u32,
        max: u32,
    ) -> adw::ActionRow {
        let spin = gtk::SpinButton::with_range(0.0, f64::from(max), 1.0);
        spin.set_value(f64::from(value));
        spin.set_valign(gtk::Align::Center);
        widgets::label_for_a11y(&spin, title);
        let row = adw::ActionRow::builder()
            .title(title)
            .subtitle(subtitle)
            .activatable_widget(&spin)
            .build();
        row.add_suffix(&spin);
        let id = id.to_string();
        // Changes of one row wait for the spinning to stop; the row's title names it.
        let pending_key = format!("{id}/{title}");
        spin.connect_value_changed(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |s| {
                let value = s.value_as_int().max(0) as u32;
                let id = id.clone();
                let t2 = t.clone();
                let key = pending_key.clone();
                let source = glib::timeout_add_local_once(
                    std::time::Duration::from_millis(600),
                    move || {
                        t2.imp().pending.borrow_mut().remove(&key);
                        t2.save(&id, setting(value));
                    },
                );
                if let Some(old) = t
                    .imp()
                    .pending
                    .borrow_mut()
                    .insert(pending_key.clone(), source)
                {
                    old.remove();
                }
            }
        ));
        row
    }

    fn save_datasets(&self, id: &str) {
        let chosen: Vec<String> = self
            .imp()
            .dataset_checks
            .borrow()
            .get(id)
            .map(|checks| {
                checks
                    .iter()
                    .filter(|c| c.1.is_active())
                    .map(|c| c.0.clone())
                    .collect()
            })
            .unwrap_or_default();
        if chosen.is_empty() {
            self.add_toast(adw::Toast::new(&gettext("Keep at least one dataset.")));
            return;
        }
        self.save(
            id,
            Settings {
                datasets: Some(chosen),
                ..Default::default()
            },
        );
    }

    fn save(&self, id: &str, settings: Settings) {
        let id = id.to_string();
        let this = self.clone();
        crate::spawn::spawn(async move {
            let result = async {
                let c = client::get().await?;
                c.helper.configure(&id, &settings).await
            }
            .await;
            match result {
                Ok(_) => model::get().refresh().await,
                // The preferences window is its own: the toast goes there.
                Err(e) => {
                    let f = client::Failure::from(e);
                    this.add_toast(adw::Toast::new(&gettext_f(
                        "Not saved: {reason}",
                        &[("reason", &f.message)],
                    )));
                }
            }
            Ok(())
        });
    }

    fn forget(&self, id: &str) {
        let id = id.to_string();
        let this = self.clone();
        crate::spawn::spawn(async move {
            let d = adw::MessageDialog::new(
                Some(&this),
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
                let f = client::Failure::from(e);
                this.add_toast(adw::Toast::new(&f.message));
            }
            model::get().refresh().await;
            this.fill();
            Ok(())
        });
    }
}
