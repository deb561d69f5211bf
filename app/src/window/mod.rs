//! The main window: a stack of pages (loading, error, onboarding, overview, browser).

use adw::subclass::prelude::*;
use gtk::prelude::*;
use gtk::{glib, CompositeTemplate};

use crate::model;
use crate::pages::browser::Browser;
use crate::pages::onboarding::Onboarding;
use crate::pages::overview::Overview;

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "window.ui")]
    pub struct Window {
        #[template_child]
        pub toasts: TemplateChild<adw::ToastOverlay>,
        #[template_child]
        pub stack: TemplateChild<gtk::Stack>,
        #[template_child]
        pub error_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub retry_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub onboarding: TemplateChild<Onboarding>,
        #[template_child]
        pub overview: TemplateChild<Overview>,
        #[template_child]
        pub browser: TemplateChild<Browser>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Window {
        const NAME: &'static str = "CofferWindow";
        type Type = super::Window;
        type ParentType = adw::ApplicationWindow;

        fn class_init(klass: &mut Self::Class) {
            Onboarding::ensure_type();
            Overview::ensure_type();
            Browser::ensure_type();
            klass.bind_template();
            klass.bind_template_instance_callbacks();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Window {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            let weak = obj.downgrade();
            model::get().connect_changed(move || {
                if let Some(w) = weak.upgrade() {
                    w.model_changed();
                }
            });
        }
    }
    impl WidgetImpl for Window {}
    impl WindowImpl for Window {}
    impl ApplicationWindowImpl for Window {}
    impl AdwApplicationWindowImpl for Window {}
}

glib::wrapper! {
    pub struct Window(ObjectSubclass<imp::Window>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gtk::gio::ActionGroup, gtk::gio::ActionMap, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

// `reload` is also the Try Again button's template callback (window.ui).
#[gtk::template_callbacks]
impl Window {
    pub fn new(app: &adw::Application) -> Self {
        let w: Self = glib::Object::builder().property("application", app).build();
        w.reload();
        w
    }

    #[template_callback]
    pub fn reload(&self) {
        self.imp().stack.set_visible_child_name("loading");
        crate::spawn::spawn(async {
            model::get().refresh().await;
            Ok(())
        });
    }

    pub fn overview(&self) -> Overview {
        self.imp().overview.get()
    }

    pub fn onboarding(&self) -> Onboarding {
        self.imp().onboarding.get()
    }

    pub fn browser(&self) -> Browser {
        self.imp().browser.get()
    }

    pub fn toast(&self, text: &str) {
        self.imp().toasts.add_toast(adw::Toast::new(text));
    }

    /// Picks the page that fits the model, unless the user is somewhere on purpose.
    fn model_changed(&self) {
        let m = model::get();
        if !m.loaded() {
            return;
        }
        let imp = self.imp();
        let current = imp.stack.visible_child_name().unwrap_or_default();
        if let Some(f) = m.load_failure() {
            imp.error_page.set_title(&f.title());
            imp.error_page.set_description(Some(&f.message));
            imp.stack.set_visible_child_name("error");
            return;
        }
        let empty = m.backups().n_items() == 0;
        match current.as_str() {
            "loading" | "error" => {
                let page = if empty { "onboarding" } else { "overview" };
                self.show_page(page);
            }
            // Forgetting the last backup set leads back to onboarding.
            "overview" | "browser" if empty => self.show_page("onboarding"),
            _ => {}
        }
    }

    /// Shows a page by name. Sub-pages are addressed as `page:sub` (e.g. `onboarding:drive`,
    /// `browser:files`), which also lets the UI tests reach every screen.
    pub fn show_page(&self, name: &str) {
        let (page, sub) = name.split_once(':').unwrap_or((name, ""));
        let imp = self.imp();
        match page {
            "onboarding" => {
                imp.onboarding
                    .show_step(if sub.is_empty() { "welcome" } else { sub });
            }
            "overview" => imp.overview.refresh(),
            "browser" => imp.browser.open(sub),
            _ => return,
        }
        imp.stack.set_visible_child_name(page);
    }
}
