//! The application: an `adw::Application` subclass (Pika Backup's shape) that owns what the
//! whole process shares — the model, the connection to the helper, the jobs followed here and
//! the monitor's hold — and its actions, the window and monitor mode.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gettextrs::gettext;
use gtk::{gio, glib};

use crate::client::Client;
use crate::model::Model;
use crate::window::Window;
use crate::{monitor, APP_ID};

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct Application {
        pub model: Model,
        /// Connected on first use (`client::get`).
        pub client: RefCell<Option<Rc<Client>>>,
        /// Paths of the jobs this process started and follows itself.
        pub own_jobs: RefCell<HashSet<String>>,
        /// Keeps a `--monitor` process alive with no window.
        pub monitor_hold: RefCell<Option<gio::ApplicationHoldGuard>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Application {
        const NAME: &'static str = "CofferApplication";
        type Type = super::Application;
        type ParentType = adw::Application;
    }

    impl ObjectImpl for Application {}

    impl ApplicationImpl for Application {
        fn startup(&self) {
            self.parent_startup();
            let app = self.obj();
            add_actions(app.upcast_ref());
            monitor::start(app.upcast_ref());
        }

        fn command_line(&self, cmd: &gio::ApplicationCommandLine) -> glib::ExitCode {
            let app = self.obj();
            if cmd.options_dict().contains("monitor") {
                let mut hold = self.monitor_hold.borrow_mut();
                if hold.is_none() {
                    *hold = Some(app.hold());
                }
            } else {
                app.activate();
            }
            glib::ExitCode::SUCCESS
        }

        fn activate(&self) {
            let w = window(self.obj().upcast_ref());
            crate::startup_probe::watch(&w);
            gtk::prelude::GtkWindowExt::present(&w);
        }
    }

    impl GtkApplicationImpl for Application {}
    impl AdwApplicationImpl for Application {}
}

glib::wrapper! {
    pub struct Application(ObjectSubclass<imp::Application>)
        @extends adw::Application, gtk::Application, gio::Application,
        @implements gio::ActionGroup, gio::ActionMap;
}

impl Application {
    fn new() -> Self {
        glib::Object::builder()
            .property("application-id", APP_ID)
            .property("flags", gio::ApplicationFlags::HANDLES_COMMAND_LINE)
            .build()
    }

    /// The running application. `main` makes it before anything that could ask runs, and
    /// nothing runs after it ends.
    pub fn get() -> Self {
        gio::Application::default()
            .and_downcast::<Self>()
            .expect("the Coffer application is running")
    }

    pub fn model(&self) -> Model {
        self.imp().model.clone()
    }

    pub fn client(&self) -> Option<Rc<Client>> {
        self.imp().client.borrow().clone()
    }

    pub fn set_client(&self, client: Rc<Client>) {
        self.imp().client.replace(Some(client));
    }

    /// Marks a job as followed here (see `monitor::own`).
    pub fn own_job(&self, job: &str) {
        self.imp().own_jobs.borrow_mut().insert(job.to_string());
    }

    /// Whether the job was followed here, forgetting it.
    pub fn disown_job(&self, job: &str) -> bool {
        self.imp().own_jobs.borrow_mut().remove(job)
    }

    fn release_monitor_hold(&self) {
        self.imp().monitor_hold.borrow_mut().take();
    }
}

pub fn run() -> glib::ExitCode {
    let app = Application::new();
    app.add_main_option(
        "monitor",
        glib::Char::from(b'm'),
        glib::OptionFlags::NONE,
        glib::OptionArg::None,
        &gettext("Run in the background and watch for the backup drive"),
        None,
    );
    app.run()
}

/// The window, created on first use.
pub fn window(app: &adw::Application) -> Window {
    app.windows()
        .into_iter()
        .find_map(|w| w.downcast::<Window>().ok())
        .unwrap_or_else(|| Window::new(app))
}

fn existing_window(app: &adw::Application) -> Option<Window> {
    app.windows()
        .into_iter()
        .find_map(|w| w.downcast::<Window>().ok())
}

fn string_action(
    app: &adw::Application,
    name: &str,
    f: impl Fn(&adw::Application, String) + 'static,
) {
    let action = gio::SimpleAction::new(name, Some(glib::VariantTy::STRING));
    let weak = app.downgrade();
    action.connect_activate(move |_, param| {
        let (Some(app), Some(s)) = (weak.upgrade(), param.and_then(|p| p.get::<String>())) else {
            return;
        };
        f(&app, s);
    });
    app.add_action(&action);
}

fn plain_action(app: &adw::Application, name: &str, f: impl Fn(&adw::Application) + 'static) {
    let action = gio::SimpleAction::new(name, None);
    let weak = app.downgrade();
    action.connect_activate(move |_, _| {
        if let Some(app) = weak.upgrade() {
            f(&app);
        }
    });
    app.add_action(&action);
}

fn add_actions(app: &adw::Application) {
    string_action(app, "show-page", |app, page| {
        if page == "preferences" {
            crate::pages::preferences::show(&window(app));
            return;
        }
        let w = window(app);
        gtk::prelude::GtkWindowExt::present(&w);
        w.show_page(&page);
    });
    // From the notification: back up this set; with a window, show the progress there.
    string_action(app, "back-up", |app, id| match existing_window(app) {
        Some(w) => {
            gtk::prelude::GtkWindowExt::present(&w);
            w.show_page("overview");
            w.overview().back_up(Some(id));
        }
        None => monitor::back_up_headless(app.upcast_ref(), id),
    });
    string_action(app, "scrub", |app, id| {
        let w = window(app);
        gtk::prelude::GtkWindowExt::present(&w);
        w.show_page("overview");
        w.overview().scrub(Some(id));
    });
    plain_action(app, "preferences", |app| {
        crate::pages::preferences::show(&window(app))
    });
    plain_action(app, "about", |app| show_about(&window(app)));
    plain_action(app, "quit", |app| {
        for w in app.windows() {
            w.close();
        }
        if let Some(app) = app.downcast_ref::<Application>() {
            app.release_monitor_hold();
        }
        app.quit();
    });
    app.set_accels_for_action("app.quit", &["<Control>q"]);
    app.set_accels_for_action("app.preferences", &["<Control>comma"]);
    app.set_accels_for_action("window.close", &["<Control>w"]);

    // Test hooks: a UI test cannot type into a passphrase dialog without a WM, so it may
    // drive those steps through actions. Only built with the test-hooks feature, and only
    // with COFFER_UI_TEST set.
    #[cfg(feature = "test-hooks")]
    if std::env::var_os("COFFER_UI_TEST").is_some() {
        string_action(app, "test", |app, command| {
            if command == "close-window" {
                for w in app.windows() {
                    w.close();
                }
                return;
            }
            let w = window(app);
            let (verb, arg) = command.split_once(':').unwrap_or((command.as_str(), ""));
            match verb {
                "unlock" => w
                    .browser()
                    .unlock_with(coffer_api::Passphrase::new(arg.to_string())),
                "onboarding" => w.onboarding().test_command(arg),
                "browser" => w.browser().test_command(arg),
                "overview" => w.overview().test_command(arg),
                _ => eprintln!("coffer: unknown test command {command}"),
            }
        });
    }
}

fn show_about(parent: &Window) {
    let about = adw::AboutWindow::builder()
        .transient_for(parent)
        .application_name("Coffer")
        .application_icon("io.github.coffer.Coffer")
        .developer_name(gettext("The Coffer developers"))
        .version(env!("CARGO_PKG_VERSION"))
        .license_type(gtk::License::Gpl30)
        .comments(gettext(
            "Encrypted ZFS backups to an external drive in one click",
        ))
        // Translators: put your name here, one per line, as "Name <email>".
        .translator_credits(gettext("translator-credits"))
        .build();
    about.present();
}
