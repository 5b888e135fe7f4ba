//! GIS import: projection reference numbers, GeoJSON and OSM XML files in tests/gis/ imported,
//! checked and run until everyone is out, and bad files giving located errors with a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::Command;

use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::Census;
use unitwin::import::{ImportOptions, Imported, Projection, import_geojson, import_osm, parse_origin};
use unitwin::scene::load::parse_scene;
use unitwin::scene::{LatLon, SourceMap};
use unitwin::schedule::{SimClock, SimControl};

fn path(p: &str) -> PathBuf {
    Path::new(&unitwin_manifest_dir()).join(p)
}

const SQUARE_ORIGIN: LatLon = LatLon { lat: 31.2300, lon: 121.4700 };
const QUARTER_ORIGIN: LatLon = LatLon { lat: 31.2400, lon: 121.4820 };

fn geojson(file: &str, people: Option<u32>) -> Imported {
    let p = path(file);
    let text = std::fs::read_to_string(&p).unwrap();
    let options = ImportOptions { people, ..ImportOptions::default() };
    match import_geojson(&text, &p, SQUARE_ORIGIN, &options) {
        Ok(i) => i,
        Err(e) => panic!("{file} does not import:\n{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

fn osm(file: &str, people: Option<u32>) -> Imported {
    let p = path(file);
    let text = std::fs::read_to_string(&p).unwrap();
    let options = ImportOptions { people, ..ImportOptions::default() };
    match import_osm(&text, &p, QUARTER_ORIGIN, &options) {
        Ok(i) => i,
        Err(e) => panic!("{file} does not import:\n{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

/// Checks the written text independently, runs it headless to the end and returns
/// (agents spawned, agents exited, simulated seconds, wall seconds).
fn check_and_run(imported: &Imported) -> (u32, u32, f64, f64) {
    let loaded = parse_scene(SourceMap::new(Path::new("imported.ron"), imported.text.clone()), String::new())
        .unwrap_or_else(|d| panic!("the written scene does not parse:\n{d}"));
    let checked = unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("the written scene does not check:\n{d}"));
    let options = RunOptions { seed: 1, until: checked.scene().run.duration, threads: None, replay: None };
    let mut app = headless_app(&checked, &options).expect("everyone is placed");
    let start = std::time::Instant::now();
    while !app.world().resource::<SimControl>().finished {
        app.update();
    }
    let census = app.world().resource::<Census>().clone();
    let t = app.world().resource::<SimClock>().now();
    (census.spawned, census.exited, t, start.elapsed().as_secs_f64())
}

fn area_of(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n).map(|i| ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1]).sum::<f64>().abs() / 2.0
}

#[test]
fn projection_matches_reference_degree_lengths() {
    // Published lengths of a degree on the WGS84 ellipsoid (latitude: 110,574 m at the equator,
    // 111,132 m at 45°; longitude: 111,320 m at the equator, 78,847 m at 45°).
    for (lat, m_lat, m_lon) in [(0.0, 110.574, 111.320), (45.0, 111.132, 78.847)] {
        let p = Projection::new(LatLon { lat, lon: 10.0 });
        let north = p.to_local(lat + 0.001, 10.0);
        let east = p.to_local(lat, 10.001);
        println!("lat {lat}: 0.001° north = {:.4} m, 0.001° east = {:.4} m", north[1], east[0]);
        assert!((north[1] - m_lat).abs() < 0.002, "{north:?}");
        assert!(north[0].abs() < 1e-9);
        assert!((east[0] - m_lon).abs() < 0.002, "{east:?}");
        assert!(east[1].abs() < 1e-9);
    }
    // Shanghai: 0.001° of latitude is about 111.2 m north (the spherical 6371 km figure; the
    // ellipsoid gives 110.87 m there), and longitude shrinks by cos(latitude).
    let p = Projection::new(QUARTER_ORIGIN);
    let north = p.to_local(QUARTER_ORIGIN.lat + 0.001, QUARTER_ORIGIN.lon);
    let east = p.to_local(QUARTER_ORIGIN.lat, QUARTER_ORIGIN.lon + 0.001);
    let spherical = 6_371_000.0 * 0.001f64.to_radians();
    println!("Shanghai: 0.001° north = {:.3} m, 0.001° east = {:.3} m", north[1], east[0]);
    assert!((north[1] / spherical - 1.0).abs() < 0.005);
    assert!((north[1] - 110.87).abs() < 0.01);
    assert!((east[0] / (spherical * QUARTER_ORIGIN.lat.to_radians().cos()) - 1.0).abs() < 0.005);
    // Back and forth.
    let q = p.to_wgs84([1234.5, -678.9]);
    let back = p.to_local(q.lat, q.lon);
    assert!((back[0] - 1234.5).abs() < 1e-6 && (back[1] + 678.9).abs() < 1e-6);
    // --origin parsing.
    let o = parse_origin("31.2400,121.4820").unwrap();
    assert_eq!((o.lat, o.lon), (31.24, 121.482));
    assert!(parse_origin("121.4820,31.2400").unwrap_err().contains("not a WGS84 position"));
    assert!(parse_origin("31.24").is_err());
}

#[test]
fn geojson_square_imports_checks_and_empties() {
    let imported = geojson("tests/gis/square.geojson", Some(100));
    let s = &imported.summary;
    let scene = &imported.scene;
    println!("{}", imported.text.lines().take(3).collect::<Vec<_>>().join("\n"));
    println!("summary: {s:?}");
    // Buildings: `height: 12` → 12 m (4 floors assumed); `building:levels: 3` → 9 m.
    let hall = scene.buildings.iter().find(|b| b.id == "hall").expect("hall");
    assert_eq!((hall.height, hall.floors), (12.0, 4));
    let kiosk = scene.buildings.iter().find(|b| b.id == "kiosk").expect("kiosk");
    assert_eq!((kiosk.height, kiosk.floors), (9.0, 3));
    assert!((area_of(&kiosk.footprint) - 70.0).abs() < 0.05, "{}", area_of(&kiosk.footprint));
    // The square (40 m × 30 m) minus the hall (10 m × 10 m on it) and the kiosk (70 m²), plus the
    // footways: 3 m × (20 m + 14.1 m) and 2 m × 15 m, with their joins.
    assert_eq!(s.buildings, 2);
    assert!(s.walkable_m2 > 1160.0 && s.walkable_m2 < 1170.0, "walkable {} m²", s.walkable_m2);
    let square = &scene.levels[0].walkable.iter().find(|a| a.id == "square").unwrap();
    assert!((area_of(&square.outer) - 1200.0).abs() < 0.05);
    // Both exits placed: the entrance at the end of the east footway, and the 1.5 m exit 0.5 m
    // beyond the end of the south footway.
    assert_eq!(s.exits, 2);
    let gate = scene.doors.iter().find(|d| d.id == "exit_east_gate").expect("east gate");
    assert_eq!(gate.width, 1.0);
    assert!((gate.at[0] - 70.0).abs() < 0.01 && (gate.at[1] - 25.0).abs() < 0.01, "{:?}", gate.at);
    let south = scene.doors.iter().find(|d| d.id == "exit_south_gate").expect("south gate");
    assert_eq!(south.width, 1.5);
    assert!((south.at[1] + 15.0).abs() < 0.01, "{:?}", south.at);
    // Assumptions and skipped features are recorded.
    let sources = &scene.unit.sources;
    assert!(sources.contains("no `width`: highway=footway taken as 2 m wide"), "{sources}");
    assert!(sources.contains("features[4] (id 'south_walk')"), "{sources}");
    assert!(sources.contains("floors = height / 3.0 m"), "{sources}");
    assert!(s.skipped.iter().any(|k| k.contains("features[7] (id 'bench'): a Point without `entrance`")), "{s:?}");
    assert!(
        s.skipped.iter().any(|k| k.contains(
            "features[8] (id 'fence'): tagged as a building but its geometry is a LineString, not a polygon"
        )),
        "{s:?}"
    );
    assert_eq!(s.people, 100);
    let placed: u32 = scene
        .populations
        .iter()
        .map(|p| match p.placement {
            unitwin::scene::Placement::Area { count, .. } => count,
            _ => 0,
        })
        .sum();
    assert_eq!(placed, 100);

    let (spawned, exited, t, wall) = check_and_run(&imported);
    println!("square: {spawned} spawned, {exited} out after {t:.1} s simulated ({wall:.2} s wall)");
    assert_eq!((spawned, exited), (100, 100), "everyone leaves");
}

#[test]
fn osm_quarter_imports_checks_and_empties() {
    let imported = osm("tests/gis/quarter.osm", Some(150));
    let s = &imported.summary;
    let scene = &imported.scene;
    println!("summary: {s:?}");
    // building:levels=5 → 15 m; height="7.5 m" → 7.5 m (floors 2.5 → 3 assumed, rounded).
    let five = scene.buildings.iter().find(|b| b.id == "way5").expect("way 5");
    assert_eq!((five.height, five.floors), (15.0, 5));
    let shop = scene.buildings.iter().find(|b| b.id == "way6").expect("way 6");
    assert_eq!(shop.height, 7.5);
    // The multipolygon with a courtyard becomes pieces without holes, 2 floors, 6 m.
    let pieces: Vec<_> = scene.buildings.iter().filter(|b| b.id.starts_with("relation40")).collect();
    assert!(pieces.len() >= 2, "{pieces:?}");
    assert!(pieces.iter().all(|b| b.height == 6.0 && b.floors == 2));
    let courtyard_area: f64 = pieces.iter().map(|b| area_of(&b.footprint)).sum();
    assert!((courtyard_area - (80.0 - 8.0)).abs() < 0.05, "{courtyard_area}");
    assert_eq!(s.buildings, 2 + pieces.len());
    // Walkable: the pedestrian area, three footways (2.5 m given, steps and path by default).
    assert!(scene.levels[0].walkable.iter().any(|a| a.id == "way1"));
    assert!(scene.levels[0].walkable.iter().any(|a| a.id == "way3"));
    // Exits: the path's end, the shop door on the building edge, and the steps' end (2 m asked,
    // narrowed to its 2 m wall).
    assert_eq!(s.exits, 3, "{:?}", scene.doors);
    let steps_exit = scene.doors.iter().find(|d| d.id == "exit_109").expect("steps exit");
    assert!(steps_exit.width < 2.0 && steps_exit.width > 1.9);
    let sources = &scene.unit.sources;
    assert!(sources.contains("highway=steps imported as a flat walkway"), "{sources}");
    assert!(sources.contains("height = building:levels × 3.0 m (2: way 5, relation 40)"), "{sources}");
    // The primary road south of the square is a street for vehicles (4 lanes, 60 km/h by default),
    // with no sidewalks: it takes no walkable space.
    assert_eq!(scene.streets.len(), 1, "{:?}", scene.streets);
    let road = &scene.streets[0];
    assert_eq!((road.id.as_str(), road.lanes, road.speed_limit, road.carriageway), ("road_w9_1", 4, 60.0, 13.0));
    assert!(sources.contains("road_w9_1: Through Road (way 9, highway=primary)"), "{sources}");
    println!("walkable {:.1} m², {} areas", s.walkable_m2, s.areas);
    // 600 m² pedestrian area − 7×8 m² (way 5) − 30 m² (way 6); footways 2.5 m × 40 m, 2 m × 10 m, 1.5 m × 10 m.
    assert!(s.walkable_m2 > 640.0 && s.walkable_m2 < 660.0, "walkable {} m²", s.walkable_m2);

    let (spawned, exited, t, wall) = check_and_run(&imported);
    println!("quarter: {spawned} spawned, {exited} out after {t:.1} s simulated ({wall:.2} s wall)");
    assert_eq!((spawned, exited), (150, 150), "everyone leaves");
}

/// tests/gis/roads.osm: a signalised junction (node 4) of a primary road (way 100, along y = 0)
/// and a residential road (way 101, along x = 0) with signalised crossings on all four arms; a
/// one-way tertiary road (way 102, drawn from x = 120 m to node 13 but `oneway=-1`) leaving the
/// residential road's north end (node 13);
/// a zebra (node 7) and a crossing footway (way 103, node 14) mid-block; a signalised crossing
/// mid-block (node 15); exits at the ends of the primary road's sidewalks.
#[test]
fn osm_roads_become_streets_junctions_crossings_and_signals() {
    use std::collections::BTreeSet;
    let imported = osm("tests/gis/roads.osm", Some(40));
    let scene = &imported.scene;
    let s = &imported.summary;
    println!("summary: {s:?}");
    let street = |id: &str| scene.streets.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no street {id}"));
    // Split at the junctions: two pieces each for the primary and the residential road.
    let ids: BTreeSet<&str> = scene.streets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["road_w100_1", "road_w100_2", "road_w101_1", "road_w101_2", "road_w102_1"]));
    assert_eq!((s.streets, s.junctions, s.signals, s.crossings), (5, 2, 2, 7));
    // Primary: 4 lanes by default (13 m), maxspeed=60, sidewalk=both (2 m each, estimated), two-way.
    for id in ["road_w100_1", "road_w100_2"] {
        let p = street(id);
        assert_eq!((p.lanes, p.carriageway, p.speed_limit, p.one_way, p.sidewalks), (4, 13.0, 60.0, false, (2.0, 2.0)));
    }
    assert_eq!(street("road_w100_1").centerline.last(), Some(&[0.0, 0.0]));
    assert_eq!(street("road_w100_2").centerline.first(), Some(&[0.0, 0.0]));
    // Residential: 2 lanes (6.5 m), 30 km/h by default.
    for id in ["road_w101_1", "road_w101_2"] {
        let r = street(id);
        assert_eq!((r.lanes, r.carriageway, r.speed_limit, r.one_way), (2, 6.5, 30.0, false));
    }
    // oneway=-1: one way, the centre line reversed: from its last node (0, 80) to its first
    // (120, 80); one lane, 40 km/h.
    let one = street("road_w102_1");
    assert!(one.one_way);
    assert_eq!((one.lanes, one.carriageway, one.speed_limit, one.sidewalks), (1, 3.25, 40.0, (0.0, 0.0)));
    assert_eq!(one.centerline.first(), Some(&[0.0, 80.0]));
    assert_eq!(one.centerline.last(), Some(&[120.0, 80.0]));
    // Junctions: every street end either joins exactly one junction or is a boundary; each junction
    // joins two or more ends.
    let junction_ids: Vec<&str> = scene.junctions.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(junction_ids, ["junction_n4", "junction_n13"]);
    let ends_at = |j: &unitwin::scene::Junction| {
        scene
            .streets
            .iter()
            .flat_map(|s| [s.centerline[0], s.centerline[s.centerline.len() - 1]])
            .filter(|e| (e[0] - j.at[0]).hypot(e[1] - j.at[1]) <= j.radius)
            .count()
    };
    assert_eq!(scene.junctions.iter().map(ends_at).collect::<Vec<_>>(), [4, 2]);
    // Crossings: where along each street, and which are signalised.
    let crossing = |id: &str| {
        scene
            .streets
            .iter()
            .flat_map(|s| s.crossings.iter().map(move |c| (s.id.as_str(), c)))
            .find(|(_, c)| c.id == id)
            .unwrap_or_else(|| panic!("no crossing {id}"))
    };
    for (id, on, at, signal) in [
        ("crossing_n7", "road_w100_1", 40.0, false),
        ("crossing_n3", "road_w100_1", 85.0, true),
        ("crossing_n5", "road_w100_2", 15.0, true),
        ("crossing_n14", "road_w101_1", 30.0, false),
        ("crossing_n11", "road_w101_1", 65.0, true),
        ("crossing_n12", "road_w101_2", 15.0, true),
        ("crossing_n15", "road_w101_2", 50.0, true),
    ] {
        let (street, c) = crossing(id);
        assert_eq!((street, c.at, c.width, c.signal), (on, at, 4.0, signal), "{id}");
    }
    // Signals: the junction's two-phase plan (major road: the primary), and the mid-block crossing's.
    let signal = |id: &str| scene.signals.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no signal {id}"));
    let junction = signal("signal_n4");
    let head = |id: &str| junction.heads.iter().find(|h| h.id == id).unwrap_or_else(|| panic!("no head {id}"));
    let streets_of = |h: &unitwin::scene::SignalHead| -> Vec<(String, String)> {
        h.vehicles.iter().map(|a| (a.street.clone(), a.at.clone())).collect()
    };
    let j4 = "junction_n4".to_string();
    assert_eq!(
        streets_of(head("signal_n4_a_vehicles")),
        [("road_w100_1".to_string(), j4.clone()), ("road_w100_2".to_string(), j4.clone())]
    );
    assert_eq!(
        streets_of(head("signal_n4_b_vehicles")),
        [("road_w101_1".to_string(), j4.clone()), ("road_w101_2".to_string(), j4)]
    );
    assert_eq!(head("signal_n4_a_walk").crossings, ["crossing_n11", "crossing_n12"], "over the minor road");
    assert_eq!(head("signal_n4_b_walk").crossings, ["crossing_n3", "crossing_n5"], "over the major road");
    let plan = &junction.plans[0];
    let durations: Vec<f64> = plan.phases.iter().map(|p| p.duration).collect();
    assert_eq!(durations, [45.0, 3.0, 2.0, 35.0, 3.0, 2.0]);
    assert_eq!(plan.phases[0].green, ["signal_n4_a_vehicles", "signal_n4_a_walk"]);
    assert_eq!(plan.phases[1].amber, ["signal_n4_a_vehicles"]);
    assert!(plan.phases[2].green.is_empty() && plan.phases[2].amber.is_empty(), "all red");
    assert_eq!(plan.phases[3].green, ["signal_n4_b_vehicles", "signal_n4_b_walk"]);
    let mid = signal("signal_crossing_n15");
    let durations: Vec<f64> = mid.plans[0].phases.iter().map(|p| p.duration).collect();
    assert_eq!(durations, [60.0, 3.0, 2.0, 25.0, 5.0]);
    assert_eq!(mid.heads[0].vehicles[0].street, "road_w101_2");
    assert_eq!(mid.heads[0].vehicles[0].at, "crossing_n15");
    assert_eq!(mid.heads[1].crossings, ["crossing_n15"]);
    // Every signalised crossing is listed by exactly one head; every approach names a junction at
    // one end of its street or one of its crossings; every head a phase uses exists.
    let listed: Vec<&str> =
        scene.signals.iter().flat_map(|s| &s.heads).flat_map(|h| h.crossings.iter().map(String::as_str)).collect();
    let signalled: Vec<&str> =
        scene.streets.iter().flat_map(|s| s.crossings.iter().filter(|c| c.signal).map(|c| c.id.as_str())).collect();
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), signalled.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(listed.len(), signalled.len());
    for sig in &scene.signals {
        for a in sig.heads.iter().flat_map(|h| &h.vehicles) {
            let st = street(&a.street);
            let at_junction = scene.junctions.iter().any(|j| {
                j.id == a.at
                    && [st.centerline[0], st.centerline[st.centerline.len() - 1]]
                        .iter()
                        .any(|e| (e[0] - j.at[0]).hypot(e[1] - j.at[1]) <= j.radius)
            });
            assert!(at_junction || st.crossings.iter().any(|c| c.id == a.at), "{a:?}");
        }
        let heads: BTreeSet<&str> = sig.heads.iter().map(|h| h.id.as_str()).collect();
        for p in sig.plans.iter().flat_map(|p| &p.phases) {
            assert!(p.green.iter().chain(&p.amber).all(|h| heads.contains(h.as_str())), "{p:?}");
        }
    }
    // The estimates are written down: in the scene's comment and in unit.sources, with the names.
    assert!(imported.text.contains("    // signal timings ESTIMATED (OpenStreetMap has none)"), "{}", imported.text);
    let sources = &scene.unit.sources;
    assert!(sources.contains("'fixed_90s', cycle 90 s") && sources.contains("'fixed_95s', cycle 95 s"), "{sources}");
    assert!(sources.contains("road_w100_1, road_w100_2: Main Road (way 100, highway=primary)"), "{sources}");
    assert!(sources.contains("oneway=-1: one way against the way's direction"), "{sources}");
    assert!(sources.contains("no `maxspeed`: highway=residential taken as 30 km/h"), "{sources}");
    assert!(
        sources.contains("sidewalk without `sidewalk:width`: 2 m wide (ESTIMATED) (2: way 100, way 101)"),
        "{sources}"
    );
    // Pedestrians: on the sidewalks and crossings, the carriageways closed to them; everyone leaves.
    assert_eq!((s.exits, s.people), (2, 40));
    let (spawned, exited, t, wall) = check_and_run(&imported);
    println!("roads: {spawned} spawned, {exited} out after {t:.1} s simulated ({wall:.2} s wall)");
    assert_eq!((spawned, exited), (40, 40), "everyone leaves");
}

/// Road shapes the vehicle network refuses unless the importer takes care: a roundabout (a closed
/// way: split so that no street starts and ends at one junction), two junctions 3 m apart (merged),
/// a crossing 2 m from a junction of a 13 m primary road (widened out of the junction's box), a
/// signalised crossing on the node where two ways of one road meet, a road in a tunnel.
#[test]
fn osm_road_corner_cases_give_a_scene_that_checks() {
    let p = Projection::new(QUARTER_ORIGIN);
    let mut nodes = String::new();
    let mut node = |id: i64, x: f64, y: f64, tags: &[(&str, &str)]| {
        let q = p.to_wgs84([x, y]);
        let t: String = tags.iter().map(|(k, v)| format!("<tag k=\"{k}\" v=\"{v}\"/>")).collect();
        nodes += &format!("  <node id=\"{id}\" lat=\"{:.9}\" lon=\"{:.9}\">{t}</node>\n", q.lat, q.lon);
    };
    // Primary along y = 0 from x = -100 to 100, crossed by residential roads at x = 0 and x = 3.
    node(1, -100.0, 0.0, &[]);
    node(2, 0.0, 0.0, &[]);
    node(3, 3.0, 0.0, &[]);
    node(4, 100.0, 0.0, &[]);
    node(5, 0.0, -60.0, &[]);
    node(6, 0.0, 60.0, &[]);
    node(7, 3.0, -60.0, &[]);
    node(8, 3.0, 60.0, &[]);
    node(9, 0.0, -2.0, &[("highway", "crossing"), ("crossing", "marked")]);
    // A roundabout of radius 20 m around (0, 150), joined by way 13 from node 6.
    for k in 0..8 {
        let a = std::f64::consts::TAU * k as f64 / 8.0 - std::f64::consts::FRAC_PI_2;
        node(20 + k, 20.0 * a.cos(), 150.0 + 20.0 * a.sin(), &[]);
    }
    // A road in two ways meeting at node 31, with signals and a crossing there; a tunnel.
    node(30, 60.0, 60.0, &[]);
    node(31, 100.0, 60.0, &[("highway", "traffic_signals"), ("crossing", "traffic_signals")]);
    node(32, 160.0, 60.0, &[]);
    node(40, -50.0, 100.0, &[]);
    node(41, 50.0, 100.0, &[]);
    let way = |id: i64, nds: &[i64], tags: &[(&str, &str)]| {
        let n: String = nds.iter().map(|n| format!("<nd ref=\"{n}\"/>")).collect();
        let t: String = tags.iter().map(|(k, v)| format!("<tag k=\"{k}\" v=\"{v}\"/>")).collect();
        format!("  <way id=\"{id}\">{n}{t}</way>\n")
    };
    let ring: Vec<i64> = (20..28).chain([20]).collect();
    let ways = [
        way(10, &[1, 2, 3, 4], &[("highway", "primary"), ("sidewalk", "both")]),
        way(11, &[5, 9, 2, 6], &[("highway", "residential"), ("sidewalk", "both")]),
        way(12, &[7, 3, 8], &[("highway", "residential")]),
        way(13, &[6, 20], &[("highway", "residential")]),
        way(14, &ring, &[("highway", "tertiary"), ("junction", "roundabout")]),
        way(15, &[30, 31], &[("highway", "tertiary")]),
        way(16, &[31, 32], &[("highway", "tertiary")]),
        way(17, &[40, 41], &[("highway", "service"), ("tunnel", "yes")]),
    ]
    .concat();
    let text = format!("<?xml version=\"1.0\"?>\n<osm version=\"0.6\">\n{nodes}{ways}</osm>\n");
    let imported = import_osm(&text, Path::new("corners.osm"), QUARTER_ORIGIN, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")));
    let scene = &imported.scene;
    let sources = &scene.unit.sources;
    println!("{sources}");
    let ids: Vec<&str> = scene.streets.iter().map(|s| s.id.as_str()).collect();
    println!("{ids:?}");
    // The 3 m piece of the primary is gone; its two junctions are one, at x = 1.5.
    assert!(!ids.contains(&"road_w10_2"), "{ids:?}");
    let merged = scene.junctions.iter().find(|j| j.id == "junction_n2").expect("junction_n2");
    assert_eq!((merged.at, merged.radius), ([1.5, 0.0], 2.0));
    assert!(scene.junctions.iter().all(|j| j.id != "junction_n3"));
    // The roundabout: split in two at its far side, both one-way.
    let ring: Vec<_> = scene.streets.iter().filter(|s| s.id.starts_with("road_w14_")).collect();
    assert_eq!(ring.len(), 2, "{ids:?}");
    assert!(ring.iter().all(|s| s.one_way && s.centerline[0] != s.centerline[s.centerline.len() - 1]));
    // The crossing 2 m from the junction, inside its box (the primary's 6.5 m half width + 0.5 m),
    // is widened to reach 0.5 m past the box, still covering the tagged place.
    let south = scene.streets.iter().find(|s| s.id == "road_w11_1").unwrap();
    let c = &south.crossings[0];
    assert!(c.at - c.width / 2.0 <= 60.0 - 7.0 - 0.49, "{c:?}");
    assert!(c.at + c.width / 2.0 >= 59.99, "{c:?}");
    assert!(sources.contains("widened to reach 0.5 m beyond it"), "{sources}");
    // Node 31 joins two ways of one road: one signalised crossing beside it, with its own signal.
    let crossings: Vec<&str> =
        scene.streets.iter().flat_map(|s| &s.crossings).map(|c| c.id.as_str()).filter(|c| c.contains("n31")).collect();
    assert_eq!(crossings, ["crossing_n31"]);
    assert!(scene.signals.iter().any(|s| s.id == "signal_crossing_n31"));
    assert!(imported.summary.skipped.iter().any(|k| k.contains("way 17: a road in a tunnel")));
    // Checked with the vehicle network by the import itself; once more from the written text.
    let loaded = parse_scene(SourceMap::new(Path::new("corners.ron"), imported.text.clone()), String::new()).unwrap();
    unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("the written scene does not check:\n{d}"));
}

#[test]
fn people_without_exits_get_an_added_exit() {
    let p = Projection::new(SQUARE_ORIGIN);
    let ll = |x: f64, y: f64| {
        let q = p.to_wgs84([x, y]);
        format!("[{}, {}]", q.lon, q.lat)
    };
    let text = format!(
        r#"{{"type": "FeatureCollection", "features": [
  {{"type": "Feature", "properties": {{"unitwin": "walkable"}}, "geometry": {{"type": "Polygon", "coordinates": [[{}, {}, {}, {}, {}]]}}}}
]}}"#,
        ll(0.0, 0.0),
        ll(20.0, 0.0),
        ll(20.0, 10.0),
        ll(0.0, 10.0),
        ll(0.0, 0.0)
    );
    let file = Path::new("inline.geojson");
    let without = import_geojson(&text, file, SQUARE_ORIGIN, &ImportOptions::default()).unwrap();
    assert_eq!((without.summary.exits, without.summary.people), (0, 0));
    let options = ImportOptions { people: Some(40), ..ImportOptions::default() };
    let with = import_geojson(&text, file, SQUARE_ORIGIN, &options).unwrap();
    assert_eq!((with.summary.exits, with.summary.added_exits), (1, 1));
    assert!(with.scene.unit.sources.contains("one 2.00 m exit added"), "{}", with.scene.unit.sources);
    let (spawned, exited, _, _) = check_and_run(&with);
    assert_eq!((spawned, exited), (40, 40));
    // Too many people for the space is a clear error.
    let options = ImportOptions { people: Some(5000), ..ImportOptions::default() };
    let e = import_geojson(&text, file, SQUARE_ORIGIN, &options).unwrap_err();
    assert!(e[0].message.contains("holds at most"), "{}", e[0]);
}

#[test]
fn bad_coordinates_name_the_feature() {
    let text = r#"{"type": "FeatureCollection", "features": [
  {"type": "Feature", "id": "ok", "properties": {"entrance": "yes"}, "geometry": {"type": "Point", "coordinates": [121.47, 31.23]}},
  {"type": "Feature", "id": "broken", "properties": {"building": "yes"}, "geometry": {"type": "Polygon", "coordinates": [[[121.47, 31.23], [121.4701], [121.47, 31.2301], [121.47, 31.23]]]}},
  {"type": "Feature", "properties": {"name": "Far Away", "highway": "footway"}, "geometry": {"type": "LineString", "coordinates": [[2.35, 48.85], [2.36, 48.85]]}},
  {"type": "Feature", "properties": {"highway": "footway"}, "geometry": {"type": "LineString"}}
]}"#;
    let e = import_geojson(text, Path::new("bad.geojson"), SQUARE_ORIGIN, &ImportOptions::default()).unwrap_err();
    let all: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    println!("{}", all.join("\n"));
    assert_eq!(e.len(), 3);
    assert!(all[0].starts_with("bad.geojson: error: features[1] (id 'broken'): invalid position [121.4701]"));
    assert!(
        all[1].contains("features[2] ('Far Away'): position [2.35, 48.85] is 11516 km from the origin"),
        "{}",
        all[1]
    );
    assert!(all[2].contains("features[3]: its LineString geometry has no \"coordinates\""));
}

// ---- The command line --------------------------------------------------------------------

fn unitwin(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unitwin")).args(args).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn cli_imports_refuses_to_overwrite_and_the_scene_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let src = path("tests/gis/square.geojson");
    let src = src.to_str().unwrap();
    let args = ["import", "geojson", src, "--origin", "31.2300,121.4700", "--people", "50"];
    let (code, stdout, stderr) = unitwin(&args, tmp.path());
    println!("{stdout}{stderr}");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("→ scenes/square.ron: "), "{stdout}");
    assert!(stdout.contains("2 building(s); 2 exit(s); 50 people in"), "{stdout}");
    assert!(stdout.contains("  skipped: features[7] (id 'bench')"), "{stdout}");
    let written = tmp.path().join("scenes/square.ron");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.starts_with("// Imported from"));
    assert!(text.contains("unitwin import geojson"));

    let (code, _, stderr) = unitwin(&args, tmp.path());
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists; add --force"), "{stderr}");
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(unitwin(&forced, tmp.path()).0, 0);

    let (code, stdout, stderr) = unitwin(&["check", "scenes/square.ron"], tmp.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2 door(s) of which 2 exit(s), 50 agents placed"), "{stdout}");

    let osm = path("tests/gis/quarter.osm");
    let (code, stdout, stderr) = unitwin(
        &["import", "osm", osm.to_str().unwrap(), "--origin", "31.2400,121.4820", "--out", "q.ron"],
        tmp.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("→ q.ron: ") && stdout.contains("no people"), "{stdout}");
    // Roads: the written scene checks, streets, junctions and signals included.
    let roads = path("tests/gis/roads.osm");
    let (code, stdout, stderr) = unitwin(
        &[
            "import",
            "osm",
            roads.to_str().unwrap(),
            "--origin",
            "31.2400,121.4820",
            "--out",
            "roads.ron",
            "--people",
            "20",
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("5 street(s) with 7 crossing(s), 2 junction(s), 2 signal(s) (timings estimated)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  assumed: signal timings ESTIMATED (OpenStreetMap has none): signalised junctions"),
        "{stdout}"
    );
    let (code, stdout, stderr) = unitwin(&["check", "roads.ron"], tmp.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("5 street(s)"), "{stdout}");
    // --vehicles: flows in at the network's edge (three two-way ends; the one-way road leaves).
    let (code, stdout, stderr) = unitwin(
        &["import", "osm", roads.to_str().unwrap(), "--origin", "31.24,121.482", "--out", "v.ron", "--vehicles", "200"],
        tmp.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2 signal(s) (timings estimated), 3 vehicle flow(s)"), "{stdout}");
    let text = std::fs::read_to_string(tmp.path().join("v.ron")).unwrap();
    assert!(text.contains(r#"Flow(id: "vehicles_road_w100_1_start", street: "road_w100_1", from: Start, rate: [(0.0, 200.0)], mix: [(Car, 0.9), (Van, 0.1)])"#), "{text}");
    assert!(text.contains("vehicle flows ESTIMATED"));
    let (code, stdout, stderr) =
        unitwin(&["run", "v.ron", "--until", "300", "--out", "v", "-q", "--threads", "1"], tmp.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("0 red-light violations"), "{stdout}");
    let (code, _, stderr) = unitwin(
        &[
            "import",
            "osm",
            roads.to_str().unwrap(),
            "--origin",
            "31.24,121.482",
            "--out",
            "w.ron",
            "--vehicles",
            "5000",
        ],
        tmp.path(),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("expected vehicles per hour"), "{stderr}");
    // A bad origin is refused by the argument parser.
    let (code, _, stderr) =
        unitwin(&["import", "osm", osm.to_str().unwrap(), "--origin", "121.48,31.24", "--out", "r.ron"], tmp.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("not a WGS84 position"), "{stderr}");
    // A missing file is an I/O failure.
    let (code, _, stderr) = unitwin(&["import", "osm", "nope.osm", "--origin", "31.24,121.48"], tmp.path());
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read nope.osm"), "{stderr}");
}

#[test]
fn cli_malformed_json_gives_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let src = path("tests/gis/bad_json.geojson");
    let (code, stdout, stderr) =
        unitwin(&["import", "geojson", src.to_str().unwrap(), "--origin", "31.23,121.47"], tmp.path());
    println!("{stderr}");
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("bad_json.geojson:6:7: error: invalid JSON: expected `,` or `}`"), "{stderr}");
    assert!(!tmp.path().join("scenes").exists(), "nothing written");
}

#[test]
fn cli_osm_way_with_missing_node_names_the_way() {
    let tmp = tempfile::tempdir().unwrap();
    let src = path("tests/gis/missing_node.osm");
    let (code, _, stderr) = unitwin(&["import", "osm", src.to_str().unwrap(), "--origin", "31.24,121.482"], tmp.path());
    println!("{stderr}");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("missing_node.osm:9:5: error: way 77: refers to node 999, which is not in the file"),
        "{stderr}"
    );
    // Broken XML is located too.
    let broken = tmp.path().join("broken.osm");
    std::fs::write(&broken, "<osm>\n  <node id=\"1\" lat=\"31.24\" lon=\"121.48\">\n</osm>\n").unwrap();
    let (code, _, stderr) = unitwin(&["import", "osm", "broken.osm", "--origin", "31.24,121.482"], tmp.path());
    println!("{stderr}");
    assert_eq!(code, 2);
    assert!(stderr.contains("broken.osm:3:1: error: invalid XML: expected 'node' tag, not 'osm'"), "{stderr}");
}

/// Found through imports: an exit whose line falls in the inner half of a navigation cell (here
/// x = 20.1 m with 0.25 m cells from x = -0.5 m) leaves a strip, up to half a cell deep, where the
/// agent's cell lies outside the walkable space. Such cells now lead through the exit; before, the
/// field there pointed back into the room and 7 of 100 got out in 600 s.
#[test]
fn exit_off_the_grid_lines_lets_everyone_out() {
    let p = Projection::new(SQUARE_ORIGIN);
    let ll = |x: f64, y: f64| {
        let q = p.to_wgs84([x, y]);
        format!("[{}, {}]", q.lon, q.lat)
    };
    let w = 20.1;
    let text = format!(
        r#"{{"type": "FeatureCollection", "features": [
  {{"type": "Feature", "properties": {{"unitwin": "walkable"}}, "geometry": {{"type": "Polygon", "coordinates": [[{}, {}, {}, {}, {}]]}}}},
  {{"type": "Feature", "properties": {{"unitwin": "exit", "width": 1.2}}, "geometry": {{"type": "Point", "coordinates": {}}}}}
]}}"#,
        ll(0.0, 0.0),
        ll(w, 0.0),
        ll(w, 10.0),
        ll(0.0, 10.0),
        ll(0.0, 0.0),
        ll(w, 5.0)
    );
    let options = ImportOptions { people: Some(100), ..ImportOptions::default() };
    let mut imported = import_geojson(&text, Path::new("room.geojson"), SQUARE_ORIGIN, &options).unwrap();
    imported.text = imported.text.replace("duration: 3600.0", "duration: 600.0");
    let (spawned, exited, t, _) = check_and_run(&imported);
    println!("room {w} m wide: {exited} of {spawned} out after {t:.1} s");
    assert_eq!(exited, spawned);
}

// ---- Robustness of the command line ------------------------------------------------------

/// `unitwin import … > /dev/full`: the scene is written, the summary that cannot go to standard
/// output goes to standard error, and nothing panics.
#[test]
fn cli_survives_a_full_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let src = path("tests/gis/square.geojson");
    let full = std::fs::File::create("/dev/full").expect("/dev/full exists on Linux");
    let out = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args(["import", "geojson", src.to_str().unwrap(), "--origin", "31.2300,121.4700", "--out", "s.ron"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::from(full))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "the scene is written: {stderr}");
    assert!(stderr.contains("→ s.ron: ") && stderr.contains("standard output could not be written"), "{stderr}");
    assert!(tmp.path().join("s.ron").exists());
    // Errors with a full stdout (they go to stderr anyway) keep their exit status.
    let full = std::fs::File::create("/dev/full").unwrap();
    let bad = path("tests/gis/bad_json.geojson");
    let out = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args(["import", "geojson", bad.to_str().unwrap(), "--origin", "31.23,121.47", "--out", "b.ron"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::from(full))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// A newline or other control character in `--name` or in the input's path cannot break the
/// written scene's header comment: the scene still parses and checks.
#[test]
fn control_characters_in_name_and_path_keep_the_scene_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let weird = tmp.path().join("odd\nname\r\u{1b}[31m\u{2028}.geojson");
    std::fs::copy(path("tests/gis/square.geojson"), &weird).unwrap();
    let name = "Square\nScene(version: 99) // \u{7} */ /* \"#";
    let (code, _, stderr) = unitwin(
        &[
            "import",
            "geojson",
            weird.to_str().unwrap(),
            "--origin",
            "31.23,121.47",
            "--name",
            name,
            "--out",
            "w.ron",
            "--people",
            "10",
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(tmp.path().join("w.ron")).unwrap();
    let header: Vec<&str> = text.lines().take_while(|l| !l.starts_with("Scene(")).collect();
    println!("{}", header.join("\n"));
    assert!(header.len() == 3 && header.iter().all(|l| l.starts_with("//")), "{header:?}");
    assert!(header[0].contains("odd\\nname\\r\\u{1b}[31m\\u{2028}.geojson"), "{}", header[0]);
    assert!(header[1].contains("--name Square\\nScene(version: 99)"), "{}", header[1]);
    let loaded = parse_scene(SourceMap::new(Path::new("w.ron"), text), String::new())
        .unwrap_or_else(|d| panic!("the written scene does not parse:\n{d}"));
    assert_eq!(loaded.scene.unit.name, name.replace(['\n', '\u{7}'], " "), "control characters become spaces");
    unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("the written scene does not check:\n{d}"));
    let (code, _, stderr) = unitwin(&["check", "w.ron"], tmp.path());
    assert_eq!(code, 0, "{stderr}");
}

/// A byte-order mark is accepted (RFC 8259 allows a reader to ignore it); a byte that is not
/// UTF-8 is reported at its line and column, in both formats.
#[test]
fn bom_accepted_and_bad_bytes_located() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(path("tests/gis/square.geojson")).unwrap());
    std::fs::write(tmp.path().join("bom.geojson"), &bytes).unwrap();
    let (code, _, stderr) =
        unitwin(&["import", "geojson", "bom.geojson", "--origin", "31.23,121.47", "--out", "bom.ron"], tmp.path());
    assert_eq!(code, 0, "{stderr}");
    let mut osm = std::fs::read_to_string(path("tests/gis/quarter.osm")).unwrap().into_bytes();
    let at = osm.windows(9).position(|w| w == b"Shop door").unwrap();
    osm[at + 2] = 0xF6; // "Sh\xF6p door", Latin-1
    let line = osm[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let col = at - osm[..at].iter().rposition(|&b| b == b'\n').unwrap() + 2;
    std::fs::write(tmp.path().join("latin1.osm"), &osm).unwrap();
    let (code, _, stderr) =
        unitwin(&["import", "osm", "latin1.osm", "--origin", "31.24,121.482", "--out", "l.ron"], tmp.path());
    println!("{stderr}");
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("latin1.osm:{line}:{col}: error: the file is not UTF-8 text: byte 0xF6")),
        "{stderr}"
    );
    assert!(stderr.contains("help: GeoJSON and OSM XML are UTF-8"));
    assert!(!tmp.path().join("l.ron").exists());
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// `maxspeed` outside the scene's 5–150 km/h: a tiny or slow value (`1e-320`, `3`) is raised to
/// walking pace with a note, and the written scene checks; a value above 150 km/h is refused,
/// located at the way.
#[test]
fn osm_maxspeed_outside_the_scene_bounds_is_raised_or_refused() {
    let p = path("tests/gis/roads.osm");
    let original = std::fs::read_to_string(&p).unwrap();
    assert!(original.contains(r#"<tag k="maxspeed" v="60"/>"#));
    for slow in ["1e-320", "3"] {
        let text = original.replace(r#"<tag k="maxspeed" v="60"/>"#, &format!(r#"<tag k="maxspeed" v="{slow}"/>"#));
        let imported = import_osm(&text, &p, QUARTER_ORIGIN, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("maxspeed={slow}: {}", e[0]));
        let primary = imported.scene.streets.iter().find(|s| s.id == "road_w100_1").unwrap();
        assert_eq!(primary.speed_limit, 5.0, "maxspeed={slow}");
        assert!(imported.scene.unit.sources.contains(&format!("`maxspeed={slow}` below walking pace")));
        let loaded = parse_scene(SourceMap::new(Path::new("imported.ron"), imported.text.clone()), String::new())
            .unwrap_or_else(|d| panic!("the written scene does not parse:\n{d}"));
        unitwin::twin::build(loaded)
            .unwrap_or_else(|d| panic!("maxspeed={slow}: the written scene does not check:\n{d}"));
    }
    let text = original.replace(r#"<tag k="maxspeed" v="60"/>"#, r#"<tag k="maxspeed" v="180"/>"#);
    let errors = import_osm(&text, &p, QUARTER_ORIGIN, &ImportOptions::default()).err().expect("maxspeed=180 refused");
    let e = &errors[0];
    assert!(e.message.contains("at most 150 km/h") && e.object.as_deref() == Some("way 100"), "{e}");
    assert!(e.pos.is_some() && e.hint.is_some(), "{e}");
}
