//! The report's plots, as SVG: latency and throughput over the run, and the
//! latency distribution by percentile.
//!
//! Drawn with `plotters`' SVG backend without its `ttf` feature: text is
//! plain SVG `<text>` laid out by an estimate, so no font file and no system
//! font library (fontconfig, freetype) is needed. Every function returns an
//! error rather than panicking; a run with nothing to plot gets a plot that
//! says so.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::LoadError;
use crate::stats::{DistributionPoint, LatencyDistribution, TimelineBucket};

/// File name of the latency-and-throughput-over-time plot.
pub const LATENCY_OVER_TIME: &str = "latency-over-time.svg";

/// File name of the latency distribution plot.
pub const LATENCY_DISTRIBUTION: &str = "latency-distribution.svg";

const OVER_TIME_SIZE: (u32, u32) = (1000, 720);
const DISTRIBUTION_SIZE: (u32, u32) = (1000, 560);
const FONT: &str = "sans-serif";
/// Font sizes (plotters draws text at about 80 % of these).
const CAPTION: u32 = 24;
const LABEL: u32 = 17;

const P50: RGBColor = RGBColor(31, 119, 180);
const P99: RGBColor = RGBColor(255, 127, 14);
const MAX: RGBColor = RGBColor(148, 103, 189);
const FINISHED: RGBColor = RGBColor(44, 160, 44);
const ERRORS: RGBColor = RGBColor(214, 39, 40);
/// Colours of the distribution's series, in order.
const SERIES: [RGBColor; 4] = [P50, P99, FINISHED, MAX];

/// Ticks of the distribution's x axis, as 1/(1 − p): 0 %, 50 %, 90 %, 99 %, …
const PERCENTILE_TICKS: [f64; 7] = [1.0, 2.0, 10.0, 100.0, 1e3, 1e4, 1e5];

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// One of a bucket's latencies (p50, p99, max), if it has any.
type Latency = fn(&TimelineBucket) -> Option<f64>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Writes [`LATENCY_OVER_TIME`] and [`LATENCY_DISTRIBUTION`] into `dir`
/// and returns their paths. `measured_from` names the timeline's latency
/// (`scheduled send` or `actual send`).
pub fn write_plots(
    dir: &Path,
    timeline: &[TimelineBucket],
    measured_from: &str,
    distributions: &[LatencyDistribution],
) -> Result<[PathBuf; 2], LoadError> {
    let over_time = latency_over_time_svg(timeline, measured_from)?;
    let distribution = latency_distribution_svg(distributions)?;
    Ok([
        write(dir, LATENCY_OVER_TIME, &over_time)?,
        write(dir, LATENCY_DISTRIBUTION, &distribution)?,
    ])
}

fn write(dir: &Path, name: &str, svg: &str) -> Result<PathBuf, LoadError> {
    let path = dir.join(name);
    std::fs::write(&path, svg).map_err(|e| LoadError::io(&path, e))?;
    Ok(path)
}

/// Latency (p50, p99, max; log scale) over seconds since the start, and
/// below it requests finished and failed per second, as an SVG document.
pub fn latency_over_time_svg(
    timeline: &[TimelineBucket],
    measured_from: &str,
) -> Result<String, LoadError> {
    render(LATENCY_OVER_TIME, OVER_TIME_SIZE, |root| {
        if timeline.iter().all(|b| b.completed == 0) {
            return message(root, "no request finished: nothing to plot");
        }
        let x_end = timeline
            .last()
            .map_or(1.0, |b| b.start_s + b.width_s)
            .max(1e-3);
        let (upper, lower) = root.split_vertically(OVER_TIME_SIZE.1 * 3 / 5);
        latency_panel(&upper, timeline, measured_from, x_end)?;
        throughput_panel(&lower, timeline, x_end)
    })
}

/// Latency (log scale) against percentile, the x axis log-scaled as
/// 1/(1 − p) (ticks 50 %, 90 %, 99 %, 99.9 %, …), one line per
/// measurement, as an SVG document.
pub fn latency_distribution_svg(
    distributions: &[LatencyDistribution],
) -> Result<String, LoadError> {
    render(LATENCY_DISTRIBUTION, DISTRIBUTION_SIZE, |root| {
        let points = || distributions.iter().flat_map(|d| &d.points);
        let Some((lo, hi)) = log_bounds(points().map(|p| p.latency_ms)) else {
            return message(
                root,
                "no successful request: no latency distribution to plot",
            );
        };
        let x_end = points()
            .map(DistributionPoint::inverse_tail)
            .fold(10.0, f64::max)
            * 1.25;
        let ticks = PERCENTILE_TICKS.into_iter().filter(|&t| t <= x_end);
        let mut chart = ChartBuilder::on(root)
            .caption(
                "latency by percentile, successful requests",
                (FONT, CAPTION),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(
                (1.0..x_end).log_scale().with_key_points(ticks.collect()),
                (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
            )?;
        chart
            .configure_mesh()
            .label_style((FONT, LABEL))
            .axis_desc_style((FONT, LABEL))
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|v| short(*v))
            .draw()?;
        for (d, &color) in distributions.iter().zip(SERIES.iter().cycle()) {
            let name = format!("from {} ({} requests)", d.measured_from, d.count);
            legend_entry(&mut chart, &name, color)?;
            let line = d
                .points
                .iter()
                .map(|p| (p.inverse_tail(), p.latency_ms.max(lo)));
            draw_line(&mut chart, &line.collect::<Vec<_>>(), color)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Draws into an SVG string of `size`, naming `plot` in any error.
fn render(
    plot: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<String, LoadError> {
    let failed = |e: DrawingAreaErrorKind<std::io::Error>| LoadError::Plot {
        plot,
        reason: e.to_string(),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        draw(&root).map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn latency_panel(
    area: &Area<'_>,
    timeline: &[TimelineBucket],
    measured_from: &str,
    x_end: f64,
) -> DrawResult {
    let values = timeline
        .iter()
        .flat_map(|b| [b.p50_ms, b.p99_ms, b.max_ms])
        .flatten();
    let Some((lo, hi)) = log_bounds(values) else {
        return message(area, "no successful request: no latency to plot");
    };
    let caption =
        format!("latency of successful requests from the {measured_from}, by completion time");
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, CAPTION))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(
            0.0..x_end,
            (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
        )?;
    chart
        .configure_mesh()
        .label_style((FONT, LABEL))
        .axis_desc_style((FONT, LABEL))
        .x_desc("seconds since start")
        .y_desc("latency (ms)")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()?;
    let series: [(&str, RGBColor, Latency); 3] = [
        ("p50", P50, |b| b.p50_ms),
        ("p99", P99, |b| b.p99_ms),
        ("max", MAX, |b| b.max_ms),
    ];
    for (name, color, _) in series {
        legend_entry(&mut chart, name, color)?;
    }
    // The highest first, so a lower line stays visible where they meet.
    for (_, color, value) in series.into_iter().rev() {
        for segment in segments(timeline, value) {
            draw_line(&mut chart, &segment, color)?;
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn throughput_panel(area: &Area<'_>, timeline: &[TimelineBucket], x_end: f64) -> DrawResult {
    let top = timeline
        .iter()
        .map(TimelineBucket::completed_per_s)
        .fold(1.0, f64::max)
        * 1.4; // room for the legend above the lines
    let mut chart = ChartBuilder::on(area)
        .caption("requests finished per second", (FONT, CAPTION))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..x_end, 0.0..top)?;
    chart
        .configure_mesh()
        .label_style((FONT, LABEL))
        .axis_desc_style((FONT, LABEL))
        .x_desc("seconds since start")
        .y_desc("requests/s")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()?;
    let errors: u64 = timeline.iter().map(|b| b.errors).sum();
    let lines = [
        (
            "finished/s".to_string(),
            FINISHED,
            TimelineBucket::completed_per_s as fn(&TimelineBucket) -> f64,
        ),
        (
            format!("errors/s ({errors} in all)"),
            ERRORS,
            TimelineBucket::errors_per_s,
        ),
    ];
    for (name, color, rate) in lines {
        legend_entry(&mut chart, &name, color)?;
        let line: Vec<_> = timeline.iter().map(|b| (b.mid_s(), rate(b))).collect();
        draw_line(&mut chart, &line, color)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Runs of consecutive buckets that have a `value`, as (middle, value)
/// points: a bucket without one (no successful request) breaks the line.
fn segments(timeline: &[TimelineBucket], value: Latency) -> Vec<Vec<(f64, f64)>> {
    timeline
        .split(|b| value(b).is_none())
        .filter(|run| !run.is_empty())
        .map(|run| {
            run.iter()
                .filter_map(|b| value(b).map(|v| (b.mid_s(), v)))
                .collect()
        })
        .collect()
}

/// A legend line for a series drawn in parts (or not at all).
fn legend_entry<X, Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    name: &str,
    color: RGBColor,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(std::iter::empty(), color))?
        .label(name)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    Ok(())
}

/// A line through `points`; a lone point, which a line would not show, as
/// a dot.
fn draw_line<X, Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    points: &[(f64, f64)],
    color: RGBColor,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if let [only] = points {
        chart.draw_series([Circle::new(*only, 3, color.filled())])?;
    } else {
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))?;
    }
    Ok(())
}

fn draw_legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, LABEL))
        .draw()
}

/// A line of text in the middle of `area`.
fn message(area: &Area<'_>, text: &str) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let centre = (
        i32::try_from(w / 2).unwrap_or(0),
        i32::try_from(h / 2).unwrap_or(0),
    );
    let style = TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(text.to_string(), centre, style))
}

/// Bounds of a log axis holding every positive finite value, with a
/// factor 2 of room each side (so at least one [`log_ticks`] tick falls
/// inside); `None` without any.
fn log_bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })?;
    Some((lo / 2.0, hi * 2.0))
}

/// Labelled ticks of a log axis from `lo` to `hi`: 1-2-5 steps over up
/// to 3 decades, 1-3 up to 5, powers of ten beyond.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10();
    let steps: &[f64] = if decades <= 3.0 {
        &[1.0, 2.0, 5.0]
    } else if decades <= 5.0 {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    #[allow(clippy::cast_possible_truncation)]
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    (first..=last)
        .flat_map(|e| steps.iter().map(move |s| s * 10f64.powi(e)))
        .filter(|t| (lo..=hi).contains(t))
        .collect()
}

/// `x` = 1/(1 − p) as a percentile: 1 → `0%`, 2 → `50%`, 100 → `99%`,
/// 1000 → `99.9%`.
fn percentile_label(x: f64) -> String {
    let percentile = 100.0 * (1.0 - 1.0 / x.max(1.0));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (x.max(1.0).log10().round() - 2.0).max(0.0) as usize;
    format!("{percentile:.decimals$}%")
}

/// A tick label: at most 3 decimals, no trailing zeros.
fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tag names of `svg` in document order, checking that every element
    /// closes in order and that there is exactly one root, `<svg>`.
    fn elements(svg: &str) -> Vec<String> {
        let mut open: Vec<&str> = Vec::new();
        let mut names = Vec::new();
        let mut roots = 0;
        for tag in svg.split('<').skip(1) {
            let tag = tag.split('>').next().expect("a tag ends with >");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name.trim()), "misnested </{name}>");
                continue;
            }
            let name = tag.split_whitespace().next().expect("a tag has a name");
            let name = name.trim_end_matches('/');
            if open.is_empty() {
                roots += 1;
            }
            names.push(name.to_string());
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        assert_eq!((roots, names.first().map(String::as_str)), (1, Some("svg")));
        names
    }

    /// The contents of every `<text>` of `svg`, trimmed.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>'))
            .filter_map(|(_, rest)| rest.split_once("</text>"))
            .map(|(text, _)| text.trim())
            .collect()
    }

    fn assert_texts(svg: &str, expected: &[&str]) {
        let texts = texts(svg);
        for text in expected {
            assert!(
                texts.iter().any(|t| t.contains(text)),
                "missing {text:?} in {texts:?}"
            );
        }
    }

    fn bucket(i: u32, completed: u64, errors: u64, p50_ms: Option<f64>) -> TimelineBucket {
        TimelineBucket {
            start_s: f64::from(i) * 0.1,
            width_s: 0.1,
            completed,
            ok: completed - errors,
            errors,
            p50_ms,
            p99_ms: p50_ms.map(|v| v * 4.0),
            max_ms: p50_ms.map(|v| v * 9.0),
        }
    }

    fn distribution(measured_from: &str, count: u64, base_ms: f64) -> LatencyDistribution {
        let points = [0.0, 50.0, 90.0, 99.0, 99.9, 99.99]
            .into_iter()
            .zip(1..)
            .map(|(percentile, i)| DistributionPoint {
                percentile,
                latency_ms: base_ms * f64::from(i),
            })
            .collect();
        LatencyDistribution {
            measured_from: measured_from.into(),
            count,
            points,
        }
    }

    #[test]
    fn latency_over_time_has_both_panels_and_every_series() {
        // A stall (bucket 3: nothing finished) and an error burst (bucket 5).
        let timeline: Vec<_> = (0..8)
            .map(|i| match i {
                3 => bucket(i, 0, 0, None),
                5 => bucket(i, 40, 40, None),
                _ => bucket(i, 50, 0, Some(1.0 + f64::from(i))),
            })
            .collect();
        let svg = latency_over_time_svg(&timeline, "scheduled send").expect("drawn");
        let names = elements(&svg);
        // p50, p99 and max in three runs each (broken at 3 and 5), plus
        // finished/s, errors/s and the legend lines.
        let polylines = names.iter().filter(|n| *n == "polyline").count();
        assert!(polylines >= 3 * 3 + 2, "{polylines} polylines");
        assert_texts(
            &svg,
            &[
                "latency of successful requests from the scheduled send",
                "latency (ms)",
                "seconds since start",
                "requests finished per second",
                "requests/s",
                "p50",
                "p99",
                "max",
                "finished/s",
                "errors/s (40 in all)",
            ],
        );
        // The errors are drawn in red.
        assert!(svg.contains("#D62728"), "no red series");
    }

    #[test]
    fn distribution_has_percentile_ticks_and_one_line_per_measurement() {
        let distributions = [
            distribution("scheduled send", 10_000, 1.2),
            distribution("actual send", 10_000, 1.0),
        ];
        let svg = latency_distribution_svg(&distributions).expect("drawn");
        let names = elements(&svg);
        assert!(names.iter().filter(|n| *n == "polyline").count() >= 2);
        assert_texts(
            &svg,
            &[
                "latency by percentile",
                "percentile",
                "latency (ms)",
                "from scheduled send (10000 requests)",
                "from actual send (10000 requests)",
            ],
        );
        let ticks: Vec<_> = texts(&svg)
            .into_iter()
            .filter(|t| t.ends_with('%'))
            .collect();
        // The last point is at 99.99 %: the axis stops short of 99.999 %.
        assert_eq!(ticks, ["0%", "50%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn empty_runs_say_so() {
        let svg = latency_over_time_svg(&[], "actual send").expect("drawn");
        elements(&svg);
        assert_texts(&svg, &["no request finished"]);
        assert!(!svg.contains("<polyline"));

        // Only failures: no latency, but the throughput panel still shows
        // the errors.
        let failures = [bucket(0, 10, 10, None), bucket(1, 5, 5, None)];
        let svg = latency_over_time_svg(&failures, "actual send").expect("drawn");
        elements(&svg);
        assert_texts(
            &svg,
            &[
                "no successful request: no latency to plot",
                "errors/s (15 in all)",
            ],
        );

        let svg = latency_distribution_svg(&[]).expect("drawn");
        elements(&svg);
        assert_texts(&svg, &["no successful request"]);
    }

    #[test]
    fn lone_points_are_drawn_as_dots() {
        let svg =
            latency_over_time_svg(&[bucket(0, 1, 0, Some(2.0))], "actual send").expect("drawn");
        assert!(elements(&svg).iter().any(|n| n == "circle"));
        let single = LatencyDistribution {
            measured_from: "actual send".into(),
            count: 1,
            points: vec![DistributionPoint {
                percentile: 0.0,
                latency_ms: 3.0,
            }],
        };
        let svg = latency_distribution_svg(&[single]).expect("drawn");
        assert!(elements(&svg).iter().any(|n| n == "circle"));
    }

    #[test]
    fn plots_are_written_and_unwritable_dirs_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let timeline = [bucket(0, 5, 1, Some(1.0)), bucket(1, 5, 0, Some(2.0))];
        let distributions = [distribution("actual send", 100, 1.0)];
        let paths =
            write_plots(dir.path(), &timeline, "actual send", &distributions).expect("written");
        assert_eq!(paths[0], dir.path().join(LATENCY_OVER_TIME));
        assert_eq!(paths[1], dir.path().join(LATENCY_DISTRIBUTION));
        for path in &paths {
            let svg = std::fs::read_to_string(path).expect("readable");
            elements(&svg);
        }
        let missing = dir.path().join("no").join("such").join("dir");
        let err = write_plots(&missing, &timeline, "actual send", &distributions);
        assert!(matches!(err, Err(LoadError::Io { .. })), "{err:?}");
    }

    #[test]
    fn labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(1e4), "99.99%");
        assert_eq!(short(0.001), "0.001");
        assert_eq!(short(2.5), "2.5");
        assert_eq!(short(10.0), "10");
        assert_eq!(short(12_345.6), "12346");
        assert_eq!(log_bounds([2.0, 0.0, 8.0].into_iter()), Some((1.0, 16.0)));
        assert_eq!(log_ticks(1.0, 16.0), [1.0, 2.0, 5.0, 10.0]);
        assert_eq!(log_ticks(1.6, 6.4), [2.0, 5.0]);
        assert_eq!(log_ticks(0.01, 1e3).len(), 11);
        assert_eq!(log_ticks(1e-3, 1e5).len(), 9);
        assert_eq!(log_bounds([0.0, f64::NAN].into_iter()), None);
    }
}
