// The wadofarm gallery: studies and series with thumbnails, and a series view that pages
// through the instances. Every image comes from wadofarm's own DICOMweb routes.
"use strict";

const VIEW_SIZE = 512; // the box the series view renders an instance into
const RETRY_DELAYS = [1000, 4000]; // ms: a busy server's 503/504 deserves another try

const $ = (id) => document.getElementById(id);

function text(tag, value, className) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (className) node.className = className;
  return node;
}

function formatDate(value) {
  return /^\d{8}$/.test(value) ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` : value;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

function seriesCard(study, series) {
  const card = document.createElement("a");
  card.className = "series";
  card.href = `#/series/${study.study_uid}/${series.series_uid}`;
  card.dataset.series = series.series_uid;
  const image = document.createElement("img");
  image.loading = "eager";
  image.alt = series.description || series.modality || "series";
  let attempt = 0;
  image.addEventListener("error", () => {
    if (attempt >= RETRY_DELAYS.length) {
      image.classList.add("failed");
      return;
    }
    const delay = RETRY_DELAYS[attempt++];
    image.dataset.retrying = "1";
    setTimeout(() => {
      delete image.dataset.retrying;
      image.src = `${series.thumbnail}?retry=${attempt}`;
    }, delay);
  });
  image.src = series.thumbnail;
  card.append(image);
  const label = [series.modality, series.number !== null ? `#${series.number}` : "", series.description]
    .filter(Boolean).join(" ");
  card.append(text("span", label || series.series_uid));
  card.append(text("span", `${series.instances} instance${series.instances === 1 ? "" : "s"}`));
  return card;
}

async function showStudies() {
  $("series-view").hidden = true;
  const root = $("studies");
  root.hidden = false;
  if (root.dataset.loaded) return;
  const listing = await getJson("/gallery/api/studies");
  const count = listing.studies.length;
  $("source").textContent = `${count} ${count === 1 ? "study" : "studies"} from the ${listing.store} store`;
  if (listing.explorer) {
    $("explorer").href = listing.explorer;
    $("explorer").hidden = false;
  }
  root.replaceChildren();
  if (!listing.studies.length) root.append(text("p", "The store holds no studies.", "note"));
  for (const study of listing.studies) {
    const block = document.createElement("article");
    block.className = "study";
    const title = text("h2", study.patient_name || study.patient_id || "(no patient name)");
    title.append(text("small", [formatDate(study.date), study.description].filter(Boolean).join(" · ")));
    block.append(title);
    const list = document.createElement("div");
    list.className = "series-list";
    for (const series of study.series) list.append(seriesCard(study, series));
    block.append(list);
    root.append(block);
  }
  root.dataset.loaded = "1";
}

const seriesState = { study: "", series: "", instances: [], index: 0 };

function showInstance() {
  const { study, series, instances, index } = seriesState;
  const instance = instances[index];
  const image = $("instance");
  image.dataset.index = String(index);
  image.src = `/dicom-web/studies/${study}/series/${series}/instances/${instance.object_uid}` +
    `/rendered?viewport=${VIEW_SIZE},${VIEW_SIZE}&accept=image/jpeg`;
  $("position").textContent = `${index + 1} / ${instances.length}`;
  const frames = instance.frames > 1 ? ` · ${instance.frames} frames` : "";
  $("caption").textContent = `Instance ${instance.number ?? "?"}${frames} · ${instance.object_uid}`;
  $("previous").disabled = index === 0;
  $("next").disabled = index === instances.length - 1;
}

async function showSeries(study, series) {
  $("studies").hidden = true;
  $("series-view").hidden = false;
  const listing = await getJson(`/gallery/api/studies/${study}/series/${series}`);
  Object.assign(seriesState, { study, series, instances: listing.instances, index: 0 });
  showInstance();
}

function step(delta) {
  const next = seriesState.index + delta;
  if (next < 0 || next >= seriesState.instances.length) return;
  seriesState.index = next;
  showInstance();
}

async function route() {
  const match = location.hash.match(/^#\/series\/([0-9.]+)\/([0-9.]+)$/);
  try {
    if (match) await showSeries(match[1], match[2]);
    else await showStudies();
  } catch (error) {
    $("studies").hidden = false;
    $("studies").replaceChildren(text("p", String(error), "note"));
  }
}

$("previous").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
document.addEventListener("keydown", (event) => {
  if ($("series-view").hidden) return;
  if (event.key === "ArrowLeft") step(-1);
  if (event.key === "ArrowRight") step(1);
});
window.addEventListener("hashchange", route);
route();
