//! Reading introspection XML down to what the contract promises, so that the committed
//! `data/io.github.coffer.Helper1.xml`, the helper and the UI tests' fake helper can be
//! compared: members with their argument types and directions, in-argument and signal
//! argument names, property types and access. Comments, annotations, formatting and order do
//! not count.

/// The members of `interface` in `xml`, one line each, sorted.
pub fn interface_members(xml: &str, interface: &str) -> Vec<String> {
    let xml = strip_comments(xml);
    let open = format!("<interface name=\"{interface}\"");
    let Some(start) = xml.find(&open) else {
        return Vec::new();
    };
    let body = &xml[start..];
    let body = &body[..body.find("</interface>").unwrap_or(body.len())];
    let mut members = Vec::new();
    for kind in ["method", "signal", "property"] {
        let tag = format!("<{kind} ");
        let mut rest = body;
        while let Some(at) = rest.find(&tag) {
            rest = &rest[at..];
            let head_end = rest.find('>').unwrap_or(rest.len());
            let head = &rest[..head_end];
            let name = attr(head, "name").unwrap_or_default();
            // The element's content runs to its closing tag, unless it closes itself.
            let content = if head.ends_with('/') {
                ""
            } else {
                let close = format!("</{kind}>");
                &rest[head_end..rest.find(&close).unwrap_or(rest.len())]
            };
            members.push(match kind {
                "property" => format!(
                    "property {name} {} {}",
                    attr(head, "type").unwrap_or_default(),
                    attr(head, "access").unwrap_or_default()
                ),
                _ => format!(
                    "{kind} {name}({})",
                    args(content, kind == "method").join(", ")
                ),
            });
            rest = &rest[head_end.min(rest.len())..];
        }
    }
    members.sort();
    members
}

fn args(content: &str, method: bool) -> Vec<String> {
    content
        .split("<arg ")
        .skip(1)
        .map(|a| {
            // The split took the space before the first attribute.
            let a = format!(" {}", &a[..a.find('>').unwrap_or(a.len())]);
            let a = a.as_str();
            let ty = attr(a, "type").unwrap_or_default();
            let dir = attr(a, "direction").unwrap_or(if method { "in" } else { "" });
            match (dir, attr(a, "name")) {
                // Out-arguments' names are documentation only.
                ("out", _) => format!("out {ty}"),
                (dir, Some(name)) => format!("{dir} {ty} {name}").trim().to_string(),
                (dir, None) => format!("{dir} {ty}").trim().to_string(),
            }
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')?;
    Some(&tag[at..at + end])
}

fn strip_comments(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("<!--") {
        out.push_str(&rest[..at]);
        rest = match rest[at..].find("-->") {
            Some(end) => &rest[at + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = include_str!("../../data/io.github.coffer.Helper1.xml");

    #[test]
    fn the_committed_contract_reads() {
        let helper = interface_members(XML, crate::names::INTERFACE);
        assert!(helper.contains(&"method ListSnapshots(in s dataset, out a(ssttxtt))".into()));
        assert!(helper.contains(&"property Jobs ao read".into()));
        assert!(helper.contains(&"signal JobAdded(o job, s operation, s backup_id)".into()));
        assert!(helper.contains(&"method Forget(in s backup_id)".into()));
        assert_eq!(
            helper.iter().filter(|m| m.starts_with("method")).count(),
            16
        );
        let job = interface_members(XML, crate::names::JOB_INTERFACE);
        assert!(job.contains(&"method Cancel()".into()));
        assert_eq!(job.iter().filter(|m| m.starts_with("property")).count(), 18);
    }

    #[test]
    fn comments_and_layout_do_not_count() {
        let a = r#"<node><interface name="x.Y"><!-- doc <method name="Gone"/> -->
            <method name="M"><arg name="a" type="s" direction="in"/>
            <arg type="o" direction="out"/></method>
            <property name="P" type="t" access="read">
              <annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="true"/>
            </property></interface></node>"#;
        let b = r#"<node><interface name="x.Y"><property name="P" type="t" access="read"/>
            <method name="M"><arg name="a" type="s" direction="in"/>
            <arg name="job" type="o" direction="out"/></method></interface></node>"#;
        assert_eq!(interface_members(a, "x.Y"), interface_members(b, "x.Y"));
        assert_eq!(interface_members(a, "x.Y").len(), 2);
    }
}
