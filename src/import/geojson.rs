//! GeoJSON (RFC 7946) reader: a FeatureCollection of WGS84 `[lon, lat]` features → `Features`.
//! Properties are read as OSM-style tags; see the module `import` for what each becomes.

use std::path::Path;

use serde_json::Value;

use super::{
    AreaRole, Features, ImportError, MAX_EXTENT, Projection, SourceBuilding, SourceExit, SourceLine, SourcePolygon,
    Tags, area_role, building_size, exit_point, line_col, line_kind, sanitize_id, short_num,
};
use crate::scene::Point;

/// Stop collecting after this many errors.
const MAX_ERRORS: usize = 20;

pub fn read(text: &str, file: &Path, proj: &Projection) -> Result<Features, Vec<ImportError>> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = match message.rsplit_once(" at line ") {
            Some((head, _)) => head.to_string(),
            None => message,
        };
        vec![
            ImportError::new(file, format!("invalid JSON: {message}"))
                .at(e.line().max(1), e.column().max(1))
                .hint("the file must be a GeoJSON FeatureCollection (RFC 7946)"),
        ]
    })?;
    // Problems with the whole file are placed where its top-level value starts.
    let start = text.len() - text.trim_start().len();
    let (line, col) = line_col(text, start);
    let whole = |message: String| {
        vec![ImportError::new(file, message).at(line, col).hint(
            "expected {\"type\": \"FeatureCollection\", \"features\": [...]} with WGS84 [longitude, latitude] coordinates",
        )]
    };
    let Some(kind) = root.get("type").and_then(Value::as_str) else {
        return Err(whole("not GeoJSON: the top level has no \"type\"".into()));
    };
    if let Some(name) = root.pointer("/crs/properties/name").and_then(Value::as_str)
        && !(name.contains("CRS84") || name.ends_with("4326"))
    {
        return Err(whole(format!(
            "coordinates are in '{name}'; only WGS84 longitude/latitude (CRS84, EPSG:4326) is supported"
        )));
    }
    let features: Vec<&Value> = match kind {
        "FeatureCollection" => match root.get("features").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => return Err(whole("the FeatureCollection has no \"features\" array".into())),
        },
        "Feature" => vec![&root],
        other => return Err(whole(format!("the top level is a '{other}', not a FeatureCollection"))),
    };

    let mut out = Features::default();
    let mut errors = Vec::new();
    for (i, feature) in features.iter().enumerate() {
        if let Err(e) = read_feature(i, feature, file, proj, &mut out) {
            errors.push(e);
            if errors.len() >= MAX_ERRORS {
                break;
            }
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn label_of(i: usize, feature: &Value) -> (String, String) {
    let id = match feature.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let name = feature.pointer("/properties/name").and_then(Value::as_str).map(str::to_string);
    let mut label = format!("features[{i}]");
    if let Some(id) = &id {
        label += &format!(" (id '{id}')");
    } else if let Some(name) = &name {
        label += &format!(" ('{name}')");
    }
    let suggested = id.or(name).map_or_else(|| format!("feature{i}"), |s| sanitize_id(&s));
    (label, suggested)
}

fn tags_of(feature: &Value) -> Tags {
    let mut tags = Tags::new();
    if let Some(props) = feature.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
                _ => continue,
            };
            tags.insert(k.clone(), text);
        }
    }
    tags
}

fn read_feature(
    i: usize,
    feature: &Value,
    file: &Path,
    proj: &Projection,
    out: &mut Features,
) -> Result<(), ImportError> {
    let (label, id) = label_of(i, feature);
    let err = |message: String| {
        ImportError::new(file, message)
            .object(label.clone())
            .hint("GeoJSON positions are [longitude, latitude] in decimal degrees (WGS84)")
    };
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(err("is not a GeoJSON Feature (its \"type\" must be \"Feature\")".into()));
    }
    let tags = tags_of(feature);
    let geometry = match feature.get("geometry") {
        None | Some(Value::Null) => {
            out.notes.skip(format!("{label}: no geometry"));
            return Ok(());
        }
        Some(g) => g,
    };
    let Some(gtype) = geometry.get("type").and_then(Value::as_str) else {
        return Err(err("its geometry has no \"type\"".into()));
    };
    if gtype == "GeometryCollection" {
        out.notes.skip(format!("{label}: GeometryCollection is not supported"));
        return Ok(());
    }
    let Some(coords) = geometry.get("coordinates") else {
        return Err(err(format!("its {gtype} geometry has no \"coordinates\"")));
    };
    let position = |v: &Value| -> Result<Point, ImportError> {
        let pair = v.as_array().filter(|a| a.len() >= 2);
        let (lon, lat) = match pair.map(|a| (a[0].as_f64(), a[1].as_f64())) {
            Some((Some(lon), Some(lat))) => (lon, lat),
            _ => return Err(err(format!("invalid position {v} in its {gtype}: expected [longitude, latitude]"))),
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(err(format!(
                "position [{}, {}] is not a WGS84 longitude/latitude (longitude in [-180, 180], latitude in [-90, 90])",
                short_num(lon),
                short_num(lat)
            )));
        }
        let p = proj.to_local(lat, lon);
        let d = p[0].hypot(p[1]);
        if d > MAX_EXTENT {
            return Err(err(format!(
                "position [{lon}, {lat}] is {:.0} km from the origin; the import covers at most {:.0} km around --origin",
                d / 1000.0,
                MAX_EXTENT / 1000.0
            ))
            .hint("check --origin (LAT,LON order) and that the file's coordinates are [longitude, latitude]"));
        }
        Ok(p)
    };
    let list = |v: &Value| -> Result<Vec<Point>, ImportError> {
        v.as_array()
            .ok_or_else(|| err(format!("its {gtype} coordinates are not an array of positions")))?
            .iter()
            .map(position)
            .collect()
    };
    let nested = |v: &Value, what: &str| -> Result<Vec<Value>, ImportError> {
        v.as_array().cloned().ok_or_else(|| err(format!("its {gtype} coordinates are not {what}")))
    };
    let polygon = |v: &Value| -> Result<(Vec<Point>, Vec<Vec<Point>>), ImportError> {
        let rings = nested(v, "an array of rings")?;
        let mut rings: Vec<Vec<Point>> = rings.iter().map(list).collect::<Result<_, _>>()?;
        for (k, r) in rings.iter_mut().enumerate() {
            let given = r.len();
            if r.len() > 1 && r.first() == r.last() {
                r.pop();
            }
            if r.len() < 3 {
                let which = if k == 0 { "outer ring".to_string() } else { format!("ring {k} (a hole)") };
                return Err(err(format!(
                    "the {which} of its {gtype} has {given} position(s); a ring needs at least 4 (the first repeated at the end)"
                ))
                .hint("a Polygon is [[[lon, lat], [lon, lat], [lon, lat], [lon, lat]], ...]: the outer ring, then any holes"));
            }
        }
        if rings.is_empty() {
            return Err(err(format!("its {gtype} has no rings")));
        }
        let outer = rings.remove(0);
        Ok((outer, rings))
    };

    match gtype {
        "Point" | "MultiPoint" => {
            let points = if gtype == "Point" { vec![position(coords)?] } else { list(coords)? };
            match exit_point(&tags) {
                Some(width) => {
                    for (k, at) in points.into_iter().enumerate() {
                        let id = if k == 0 { format!("exit_{id}") } else { format!("exit_{id}_{k}") };
                        out.exits.push(SourceExit { label: label.clone(), pos: None, id, at, width });
                    }
                }
                None => out.notes.skip(format!("{label}: a {gtype} without `entrance` or `unitwin=exit`")),
            }
        }
        "LineString" | "MultiLineString" => {
            let lines = if gtype == "LineString" {
                vec![list(coords)?]
            } else {
                nested(coords, "an array of lines")?.iter().map(list).collect::<Result<_, _>>()?
            };
            match (line_kind(&tags), area_role(&tags, false)) {
                (Some(kind), _) => {
                    for (k, points) in lines.into_iter().enumerate() {
                        let id = if k == 0 { id.clone() } else { format!("{id}_{k}") };
                        out.walk_lines.push(SourceLine {
                            label: label.clone(),
                            pos: None,
                            id,
                            points,
                            kind: kind.clone(),
                        });
                    }
                }
                (None, Some(role)) => out.notes.skip(format!(
                    "{label}: tagged as {} but its geometry is a {gtype}, not a polygon",
                    if role == AreaRole::Building { "a building" } else { "a walkable area" }
                )),
                (None, None) => out.notes.skip(format!(
                    "{label}: a {gtype} that is not a walkable way (highway=footway|pedestrian|path|steps|living_street or unitwin=walkable)"
                )),
            }
        }
        "Polygon" | "MultiPolygon" => {
            let polygons = if gtype == "Polygon" {
                vec![polygon(coords)?]
            } else {
                nested(coords, "an array of polygons")?.iter().map(polygon).collect::<Result<_, _>>()?
            };
            let role = area_role(&tags, false);
            for (k, (outer, holes)) in polygons.into_iter().enumerate() {
                let id = if k == 0 { id.clone() } else { format!("{id}_{k}") };
                let source = SourcePolygon { label: label.clone(), pos: None, id, outer, holes };
                match role {
                    Some(AreaRole::Building) => {
                        let (height, floors, assumption) = building_size(&tags);
                        if let Some(a) = assumption {
                            out.notes.assume(a, label.clone());
                        }
                        out.buildings.push(SourceBuilding { polygon: source, height, floors });
                    }
                    Some(AreaRole::Walkable) => out.walk_areas.push(source),
                    None => {
                        out.notes.skip(format!("{label}: a {gtype} without building or walkable tags"));
                        break;
                    }
                }
            }
        }
        other => return Err(err(format!("unknown geometry type '{other}'"))),
    }
    Ok(())
}
