//! OpenStreetMap XML reader (`.osm`): nodes, ways and multipolygon relations → `Features`.
//! Errors carry the line:column of the element at fault; ways are named by their OSM id.

use std::collections::BTreeMap;
use std::path::Path;

use roxmltree::{Document, Node, ParsingOptions};

use super::roads::{self, RoadWay, WalkWay, road_class};
use super::{
    AreaRole, Features, ImportError, MAX_EXTENT, MAX_XML_ELEMENTS, Projection, SourceBuilding, SourceExit, SourceLine,
    SourcePolygon, Tags, area_role, building_size, exit_point, line_col, line_kind, short_num,
};
use crate::geom::{ring_contains, v};
use crate::scene::Point;

const MAX_ERRORS: usize = 20;

struct Way {
    id: i64,
    /// Byte offset of the `<way>` element.
    offset: usize,
    /// Node ids with the byte offset of their `<nd>` element.
    refs: Vec<(i64, usize)>,
    tags: Tags,
}

struct Relation {
    id: i64,
    /// Byte offset of the `<relation>` element.
    offset: usize,
    /// (member type, ref, role)
    members: Vec<(String, i64, String)>,
    tags: Tags,
}

pub fn read(text: &str, file: &Path, proj: &Projection) -> Result<Features, Vec<ImportError>> {
    let xml_hint = "the file must be OpenStreetMap XML (<osm> with <node>, <way> and <relation> elements)";
    // Bound the parse up front: every element starts with '<', which cannot occur unescaped in
    // attribute values or text, so this counts elements (and comments) from above.
    if let Some((offset, _)) = text.match_indices('<').nth(MAX_XML_ELEMENTS) {
        let (line, col) = line_col(text, offset);
        return Err(vec![
            ImportError::new(
                file,
                format!("more than {MAX_XML_ELEMENTS} XML elements; the import reads at most that many"),
            )
            .at(line, col)
            .hint("crop the file to the unit (e.g. osmium extract -b LON1,LAT1,LON2,LAT2 in.osm -o out.osm)"),
        ]);
    }
    // No DTD: OSM XML never has one, and entity definitions can expand a small file without bound.
    // Text nodes at most double the count of elements, so `nodes_limit` is never the first limit hit.
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: (2 * MAX_XML_ELEMENTS + 16) as u32,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| vec![xml_error(text, file, &e, xml_hint)])?;
    let at = |node: Node, message: String| {
        let p = doc.text_pos_at(node.range().start);
        ImportError::new(file, message).at(p.row as usize, p.col as usize)
    };
    let root = doc.root_element();
    if root.tag_name().name() != "osm" {
        return Err(vec![
            at(root, format!("not an OpenStreetMap XML file: the root element is <{}>", root.tag_name().name()))
                .hint("export the area as OSM XML (e.g. 'Export' on the OSM website, or osmium cat -f osm)"),
        ]);
    }

    let mut errors: Vec<ImportError> = Vec::new();
    let mut nodes: BTreeMap<i64, Point> = BTreeMap::new();
    // Where each node, way and relation is defined, to refuse a second definition.
    let mut defined: [BTreeMap<i64, usize>; 3] = Default::default();
    let mut node_tags: Vec<(i64, Tags)> = Vec::new();
    let mut ways: Vec<Way> = Vec::new();
    let mut relations: Vec<Relation> = Vec::new();
    let deleted = |n: Node| n.attribute("action") == Some("delete") || n.attribute("visible") == Some("false");

    for element in root.children().filter(|n| n.is_element()) {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let kind = element.tag_name().name();
        if !matches!(kind, "node" | "way" | "relation") || deleted(element) {
            continue;
        }
        let Some(id) = element.attribute("id").and_then(|s| s.trim().parse::<i64>().ok()) else {
            errors.push(
                at(element, format!("<{kind}> without a numeric id"))
                    .hint("every <node>, <way> and <relation> needs id=\"…\", an integer (negative for new objects)"),
            );
            continue;
        };
        let slot = match kind {
            "node" => 0,
            "way" => 1,
            _ => 2,
        };
        if let Some(&first) = defined[slot].get(&id) {
            let (line, col) = line_col(text, first);
            errors.push(
                at(element, format!("is defined twice: first at {line}:{col}, again here"))
                    .object(format!("{kind} {id}"))
                    .hint("each OSM id may occur once per element type; merge the files with osmium merge, or renumber one copy"),
            );
            continue;
        }
        defined[slot].insert(id, element.range().start);
        let tags: Tags = element
            .children()
            .filter(|c| c.has_tag_name("tag"))
            .filter_map(|c| Some((c.attribute("k")?.to_string(), c.attribute("v")?.to_string())))
            .collect();
        match kind {
            "node" => {
                let coord = |name: &str| element.attribute(name).and_then(|s| s.trim().parse::<f64>().ok());
                let (Some(lat), Some(lon)) = (coord("lat"), coord("lon")) else {
                    errors.push(
                        at(element, "missing or invalid lat/lon".into())
                            .object(format!("node {id}"))
                            .hint("every node needs lat=\"…\" lon=\"…\" in decimal degrees"),
                    );
                    continue;
                };
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    errors.push(
                        at(element, format!("lat {}, lon {} is not a WGS84 position", short_num(lat), short_num(lon)))
                            .object(format!("node {id}"))
                            .hint("lat must lie in [-90, 90] and lon in [-180, 180], in decimal degrees"),
                    );
                    continue;
                }
                let p = proj.to_local(lat, lon);
                let d = p[0].hypot(p[1]);
                if d > MAX_EXTENT {
                    errors.push(
                        at(
                            element,
                            format!(
                                "lies {:.0} km from the origin; the import covers at most {:.0} km around --origin",
                                d / 1000.0,
                                MAX_EXTENT / 1000.0
                            ),
                        )
                        .object(format!("node {id}"))
                        .hint("check --origin (LAT,LON order)"),
                    );
                    continue;
                }
                nodes.insert(id, p);
                if !tags.is_empty() {
                    node_tags.push((id, tags));
                }
            }
            "way" => {
                let mut refs = Vec::new();
                for nd in element.children().filter(|c| c.has_tag_name("nd")) {
                    match nd.attribute("ref").and_then(|s| s.trim().parse::<i64>().ok()) {
                        Some(r) => refs.push((r, nd.range().start)),
                        None => errors.push(
                            at(nd, "<nd> without a numeric ref".into())
                                .object(format!("way {id}"))
                                .hint("each <nd> of a way names a node: <nd ref=\"NODE_ID\"/>"),
                        ),
                    }
                }
                ways.push(Way { id, offset: element.range().start, refs, tags });
            }
            _ => {
                let members = element
                    .children()
                    .filter(|c| c.has_tag_name("member"))
                    .filter_map(|c| {
                        Some((
                            c.attribute("type")?.to_string(),
                            c.attribute("ref")?.trim().parse().ok()?,
                            c.attribute("role").unwrap_or("").to_string(),
                        ))
                    })
                    .collect();
                relations.push(Relation { id, offset: element.range().start, members, tags });
            }
        }
    }

    let mut out = Features::default();
    for (id, tags) in &node_tags {
        if let Some(width) = exit_point(tags) {
            let label = format!("node {id}");
            let pos = Some(line_col(text, defined[0][id]));
            out.exits.push(SourceExit { label, pos, id: format!("exit_{id}"), at: nodes[id], width });
        }
    }

    let mut ignored = 0usize;
    let mut road_ways: Vec<RoadWay> = Vec::new();
    let mut walk_ways: Vec<WalkWay> = Vec::new();
    for way in &ways {
        let closed = way.refs.len() >= 4 && way.refs.first().map(|r| r.0) == way.refs.last().map(|r| r.0);
        let road = road_class(&way.tags).is_some();
        let role = if closed && !road { area_role(&way.tags, true) } else { None };
        let line = if role.is_none() && !road { line_kind(&way.tags) } else { None };
        if role.is_none() && line.is_none() && !road {
            if !closed && let Some(r) = area_role(&way.tags, true) {
                let what = if r == AreaRole::Building { "a building" } else { "a walkable area" };
                out.notes.skip(format!("way {}: tagged as {what} but not closed", way.id));
            } else if !way.tags.is_empty() {
                ignored += 1;
            }
            continue;
        }
        let mut points = Vec::with_capacity(way.refs.len());
        let mut missing = false;
        for &(r, offset) in &way.refs {
            match nodes.get(&r) {
                Some(p) => points.push(*p),
                None => {
                    let p = doc.text_pos_at(offset);
                    errors.push(
                        ImportError::new(file, format!("refers to node {r}, which is not in the file"))
                            .at(p.row as usize, p.col as usize)
                            .object(format!("way {}", way.id))
                            .hint("export complete ways: the OSM website's Export, or osmium extract --strategy complete_ways"),
                    );
                    missing = true;
                    break;
                }
            }
        }
        if missing {
            continue;
        }
        let label = format!("way {}", way.id);
        let pos = Some(line_col(text, way.offset));
        let node_ids = || way.refs.iter().map(|r| r.0).collect::<Vec<i64>>();
        if road {
            road_ways.push(RoadWay { id: way.id, pos, nodes: node_ids(), tags: way.tags.clone() });
            continue;
        }
        match (role, line) {
            (Some(role), _) => {
                points.pop(); // the closing node
                let id = format!("way{}", way.id);
                let polygon = SourcePolygon { label: label.clone(), pos, id, outer: points, holes: vec![] };
                push_polygon(&mut out, role, polygon, &way.tags);
            }
            (None, Some(kind)) => {
                let width = (!kind.width_assumed).then_some(kind.width);
                walk_ways.push(WalkWay { id: way.id, nodes: node_ids(), tags: way.tags.clone(), width });
                out.walk_lines.push(SourceLine { label, pos, id: format!("way{}", way.id), points, kind });
            }
            (None, None) => unreachable!("filtered above"),
        }
    }
    if errors.is_empty() {
        let node_tag_map: BTreeMap<i64, Tags> = node_tags.iter().cloned().collect();
        match roads::build(road_ways, &walk_ways, &nodes, &node_tag_map, file, &mut out.notes) {
            Ok(r) => out.roads = r,
            Err(e) => errors.extend(e),
        }
    }

    let way_index: BTreeMap<i64, usize> = ways.iter().enumerate().map(|(i, w)| (w.id, i)).collect();
    for rel in &relations {
        let kind = rel.tags.get("type").map(String::as_str);
        if !matches!(kind, Some("multipolygon" | "building")) {
            continue;
        }
        let Some(role) = area_role(&rel.tags, false) else {
            if kind == Some("multipolygon") && !rel.tags.is_empty() {
                ignored += 1;
            }
            continue;
        };
        let label = format!("relation {}", rel.id);
        let mut outers: Vec<Vec<i64>> = Vec::new();
        let mut inners: Vec<Vec<i64>> = Vec::new();
        let mut problem = None;
        for (mtype, mref, mrole) in &rel.members {
            if mtype != "way" {
                continue;
            }
            let Some(&wi) = way_index.get(mref) else {
                problem = Some(format!("member way {mref} is not in the file"));
                break;
            };
            let ids: Vec<i64> = ways[wi].refs.iter().map(|r| r.0).collect();
            if let Some(n) = ids.iter().find(|n| !nodes.contains_key(n)) {
                problem = Some(format!("member way {mref} refers to node {n}, which is not in the file"));
                break;
            }
            match mrole.as_str() {
                "inner" => inners.push(ids),
                _ => outers.push(ids),
            }
        }
        if problem.is_none() && outers.is_empty() {
            problem = Some("no outer ring".into());
        }
        let assembled = problem.is_none().then(|| (assemble(outers), assemble(inners))).and_then(|r| match r {
            (Some(o), Some(i)) => Some((o, i)),
            _ => None,
        });
        let Some((outer_rings, inner_rings)) = assembled else {
            let why = problem.unwrap_or_else(|| "its member ways do not join into closed rings".into());
            out.notes.skip(format!("{label}: incomplete multipolygon ({why})"));
            continue;
        };
        let to_points = |ring: &[i64]| -> Vec<Point> { ring[..ring.len() - 1].iter().map(|n| nodes[n]).collect() };
        let outer_pts: Vec<Vec<Point>> = outer_rings.iter().map(|r| to_points(r)).collect();
        let mut holes: Vec<Vec<Vec<Point>>> = vec![Vec::new(); outer_pts.len()];
        for inner in &inner_rings {
            let pts = to_points(inner);
            match outer_pts.iter().position(|o| ring_contains(o, v(pts[0]))) {
                Some(k) => holes[k].push(pts),
                None => out.notes.skip(format!("{label}: an inner ring outside every outer ring was ignored")),
            }
        }
        for (k, (outer, holes)) in outer_pts.into_iter().zip(holes).enumerate() {
            let id = if k == 0 { format!("relation{}", rel.id) } else { format!("relation{}_{k}", rel.id) };
            let polygon =
                SourcePolygon { label: label.clone(), pos: Some(line_col(text, rel.offset)), id, outer, holes };
            push_polygon(&mut out, role, polygon, &rel.tags);
        }
    }
    if ignored > 0 {
        out.notes.skip(format!(
            "{ignored} tagged way(s)/relation(s) that are neither roads, walkable ways, walkable areas nor buildings (e.g. railways, land use)"
        ));
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A located message for an XML error. roxmltree places some errors (a DTD, a file that ends
/// early) at 1:1; those are located here: at the `<!DOCTYPE`, or at the end of the file, naming the
/// element left open.
fn xml_error(text: &str, file: &Path, e: &roxmltree::Error, hint: &str) -> ImportError {
    use roxmltree::Error as E;
    let end = line_col(text, text.len());
    match e {
        E::DtdDetected => {
            let offset = text.find("<!DOCTYPE").unwrap_or(0);
            let (line, col) = line_col(text, offset);
            let entities = if text.contains("<!ENTITY") { " with entity declarations" } else { "" };
            ImportError::new(
                file,
                format!(
                    "the file has a document type declaration (<!DOCTYPE …>){entities}; OpenStreetMap XML has none, \
                     and entities can expand a small file without bound, so DTDs are refused"
                ),
            )
            .at(line, col)
            .hint(
                "remove the <!DOCTYPE …> declaration; OSM XML from the OSM website, JOSM, osmium or Overpass has none",
            )
        }
        E::UnexpectedEndOfStream | E::UnclosedRootNode | E::NoRootNode => {
            let message = match open_element(text) {
                Some((name, offset, true)) => {
                    let (line, col) = line_col(text, offset);
                    format!("the file ends inside the <{name}> tag that starts at {line}:{col}: is it truncated?")
                }
                Some((name, offset, false)) => {
                    let (line, col) = line_col(text, offset);
                    format!("the file ends before <{name}> (opened at {line}:{col}) is closed: is it truncated?")
                }
                None if text.trim().is_empty() => "the file is empty".to_string(),
                None => "the file ends before the XML is complete: is it truncated?".to_string(),
            };
            ImportError::new(file, message).at(end.0, end.1).hint(hint)
        }
        E::NodesLimitReached | E::AttributesLimitReached | E::NamespacesLimitReached => {
            ImportError::new(file, format!("the XML is too large to read: {e}"))
                .at(end.0, end.1)
                .hint("crop the file to the unit (e.g. osmium extract -b LON1,LAT1,LON2,LAT2 in.osm -o out.osm)")
        }
        _ => {
            let pos = e.pos();
            let message = e.to_string();
            let message = message.rsplit_once(" at ").map_or(message.clone(), |(head, _)| head.to_string());
            ImportError::new(file, format!("invalid XML: {message}")).at(pos.row as usize, pos.col as usize).hint(hint)
        }
    }
}

/// The innermost element still open at the end of `text`: its name, the offset of its `<`, and
/// whether the file ends inside its start tag. A light scan (comments, CDATA, processing
/// instructions and quoted attribute values skipped), used only to explain a truncated file.
fn open_element(text: &str) -> Option<(String, usize, bool)> {
    let b = text.as_bytes();
    let mut stack: Vec<(usize, usize)> = Vec::new(); // (offset of '<', end of name)
    let mut i = 0;
    let name_at = |start: usize| -> (usize, usize) {
        let end = b[start..]
            .iter()
            .position(|c| c.is_ascii_whitespace() || matches!(c, b'>' | b'/'))
            .map_or(b.len(), |k| start + k);
        (start, end)
    };
    while let Some(k) = b[i..].iter().position(|&c| c == b'<') {
        let lt = i + k;
        let rest = &text[lt..];
        let skip_to = |close: &str| rest.find(close).map(|e| lt + e + close.len());
        let next = if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_to("]]>")
        } else if rest.starts_with("<?") {
            skip_to("?>")
        } else if rest.starts_with("<!") {
            skip_to(">")
        } else if rest.starts_with("</") {
            stack.pop();
            skip_to(">")
        } else {
            // A start tag: find its '>' outside quotes.
            let (_, name_end) = name_at(lt + 1);
            let mut quote = None;
            let mut j = name_end;
            let mut close = None;
            while j < b.len() {
                match (quote, b[j]) {
                    (None, b'"' | b'\'') => quote = Some(b[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => {
                        close = Some(j);
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
            match close {
                Some(j) => {
                    if b[j - 1] != b'/' {
                        stack.push((lt, name_end));
                    }
                    Some(j + 1)
                }
                None => {
                    let name = text[lt + 1..name_end].to_string();
                    return Some((name, lt, true));
                }
            }
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    let (lt, name_end) = stack.pop()?;
    Some((text[lt + 1..name_end].to_string(), lt, false))
}

fn push_polygon(out: &mut Features, role: AreaRole, polygon: SourcePolygon, tags: &Tags) {
    match role {
        AreaRole::Walkable => out.walk_areas.push(polygon),
        AreaRole::Building => {
            let (height, floors, assumption) = building_size(tags);
            if let Some(a) = assumption {
                out.notes.assume(a, polygon.label.clone());
            }
            out.buildings.push(SourceBuilding { polygon, height, floors });
        }
    }
}

/// Joins way node lists end to end into closed rings (each ring's last id equals its first).
/// `None` if some ways do not close. Ways are found by their end nodes through an index, so
/// relations with many members take time in proportion to their size.
fn assemble(ways: Vec<Vec<i64>>) -> Option<Vec<Vec<i64>>> {
    let mut by_end: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (k, w) in ways.iter().enumerate() {
        let (first, last) = (*w.first()?, *w.last()?);
        by_end.entry(first).or_default().push(k);
        if last != first {
            by_end.entry(last).or_default().push(k);
        }
    }
    let mut used = vec![false; ways.len()];
    let mut rings = Vec::new();
    for start in (0..ways.len()).rev() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut ring = ways[start].clone();
        loop {
            if ring.len() >= 4 && ring.first() == ring.last() {
                rings.push(ring);
                break;
            }
            let end = *ring.last()?;
            let candidates = by_end.get_mut(&end)?;
            candidates.retain(|&k| !used[k]);
            let next = *candidates.first()?;
            used[next] = true;
            let mut way = ways[next].clone();
            if way.first() != Some(&end) {
                way.reverse();
            }
            ring.extend_from_slice(&way[1..]);
        }
    }
    Some(rings)
}
