//! Bar charts drawn by the server as inline SVG (no script, so the CSP stays strict): groups of bars,
//! one bar per series in each group, each with a `<title>` that names its value. Used by the dashboard's
//! 30-day trend and the simulation page.

/// One series of bars.
pub struct Series<'a> {
    pub name: &'a str,
    pub fill: &'static str,
    pub values: Vec<f64>,
}

/// A horizontal line across the chart (e.g. the target wait).
pub struct Reference<'a> {
    pub value: f64,
    pub label: &'a str,
}

const HEIGHT: f64 = 160.0;
const PLOT: f64 = 140.0;
const BASE: f64 = 150.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An SVG bar chart: `labels[i]` names group i; each series gives one bar per group. `class` lets a
/// page style or find the chart; every bar is a `rect` (and nothing else is).
pub fn bars(
    class: &str,
    aria_label: &str,
    labels: &[String],
    series: &[Series],
    reference: Option<Reference>,
) -> String {
    let groups = labels.len().max(1);
    let per = series.len().max(1);
    let bar_w = 8.0;
    let group_w = (per as f64 * (bar_w + 1.0) + 3.0).max(20.0);
    let width = (groups as f64 * group_w).max(200.0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(reference.as_ref().map(|r| r.value))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let mut svg = format!(
        r#"<svg class="{}" viewBox="0 0 {width} {HEIGHT}" width="100%" role="img" aria-label="{}">"#,
        esc(class),
        esc(aria_label)
    );
    for (g, label) in labels.iter().enumerate() {
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(g).copied().unwrap_or(0.0).max(0.0);
            let h = ((v / max) * PLOT).round();
            let x = g as f64 * group_w + k as f64 * (bar_w + 1.0);
            svg.push_str(&format!(
                r#"<rect x="{x}" y="{}" width="{bar_w}" height="{h}" fill="{}"><title>{} {} {}</title></rect>"#,
                BASE - h,
                s.fill,
                esc(label),
                esc(s.name),
                fmt(v)
            ));
        }
    }
    if let Some(r) = reference {
        let y = BASE - ((r.value / max) * PLOT).round();
        svg.push_str(&format!(
            r##"<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#a4161a" stroke-dasharray="4 3"><title>{}</title></line>"##,
            esc(r.label)
        ));
    }
    svg.push_str(&format!(r##"<line x1="0" y1="{BASE}" x2="{width}" y2="{BASE}" stroke="#444"/></svg>"##));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rect_per_bar_scaled_to_the_largest() {
        let labels: Vec<String> = vec!["a".into(), "b<".into()];
        let svg = bars(
            "c",
            "x",
            &labels,
            &[
                Series { name: "s1", fill: "#000", values: vec![1.0, 2.0] },
                Series { name: "s2", fill: "#fff", values: vec![0.0, 4.0] },
            ],
            None,
        );
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(r#"height="140""#), "the largest bar fills the plot: {svg}");
        assert!(svg.contains("b&lt; s2 4"), "{svg}");
    }
}
