// The product page's "Add image" (functions/console/src/catalog_images.rs says the whole flow):
// the picked file is resized here to each width the shop stores (WebP, or PNG where this
// browser cannot write WebP), the console is asked for one presigned POST form per width (it
// picks the names), each width is posted straight to the shop's bucket, and the page's form
// then names the image so that the console checks the uploads and adds it to the product.
// Every failure is said in the page, in the status line beside the file input.
"use strict";

(() => {
  const form = document.getElementById("image-upload");
  if (!form) return;
  const input = document.getElementById("add-image");
  const status = document.getElementById("image-status");
  const maxPicked = Number(form.dataset.maxPicked);
  const accepted = ["image/png", "image/jpeg", "image/webp"];
  const widths = [640, 320];

  /** Shows `text` in the status line, as a refusal when `failed`. */
  const say = (text, failed) => {
    status.textContent = text;
    status.classList.toggle("refusal", Boolean(failed));
    status.setAttribute("role", failed ? "alert" : "status");
  };
  const megabytes = (bytes) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

  /** A refusal the page shows as it is. */
  class Refusal extends Error {}

  /** `bitmap` drawn `width` pixels wide (height in proportion), as a blob of `type`, or null. */
  const resized = (bitmap, width, type) =>
    new Promise((resolve) => {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = Math.max(1, Math.round((bitmap.height * width) / bitmap.width));
      const context = canvas.getContext("2d");
      context.imageSmoothingQuality = "high";
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => resolve(blob), type, 0.85);
    });

  /** Every width in one format: WebP when this browser writes it, else PNG. */
  const resizeAll = async (bitmap) => {
    for (const [format, type] of [["webp", "image/webp"], ["png", "image/png"]]) {
      const blobs = [];
      for (const width of widths) {
        const blob = await resized(bitmap, width, type);
        if (!blob || blob.type !== type) break;
        blobs.push(blob);
      }
      if (blobs.length === widths.length) return { format, blobs };
    }
    throw new Refusal("This browser could not write the resized image; please try another browser.");
  };

  /** The console's forms for the next image of this product, in `format`. */
  const askForms = async (format) => {
    const body = new URLSearchParams({ csrf: form.elements.csrf.value, format });
    let response;
    try {
      response = await fetch(form.dataset.forms, { method: "POST", body, credentials: "same-origin" });
    } catch {
      throw new Refusal("The console could not be reached; check the connection and try again.");
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok || !answer || !Array.isArray(answer.uploads)) {
      throw new Refusal(
        (answer && answer.error) || "The console refused to prepare the upload: reload the page and try again.",
      );
    }
    return answer;
  };

  /** Posts `blob` with the presigned `upload` form; a refusal says what the bucket said. */
  const post = async (upload, blob) => {
    const data = new FormData();
    for (const [name, value] of upload.fields) data.append(name, value);
    data.append("file", blob);
    let response;
    try {
      response = await fetch(upload.url, { method: "POST", body: data, mode: "cors", credentials: "omit" });
    } catch {
      throw new Refusal("The upload could not reach the image store; check the connection and try again.");
    }
    if (response.ok) return;
    const text = await response.text().catch(() => "");
    const xml = new DOMParser().parseFromString(text, "application/xml");
    const code = xml.querySelector("Code")?.textContent || `HTTP ${response.status}`;
    const message = xml.querySelector("Message")?.textContent || "";
    const why =
      code === "EntityTooLarge"
        ? "the resized image is too big"
        : code === "AccessDenied" && /expired/i.test(message)
          ? "the upload form expired; reload the page"
          : `${code}${message ? `: ${message}` : ""}`;
    throw new Refusal(`The image store refused the ${upload.width}-pixel upload (${why}).`);
  };

  const add = async (file) => {
    if (!accepted.includes(file.type)) {
      throw new Refusal(`${file.name} is not an image this shop takes: pick a PNG, JPEG or WebP file.`);
    }
    if (file.size > maxPicked) {
      throw new Refusal(`${file.name} is too big (${megabytes(file.size)}): pick one of at most ${megabytes(maxPicked)}.`);
    }
    say("Resizing…");
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      throw new Refusal(`${file.name} could not be read as an image: pick a PNG, JPEG or WebP file.`);
    }
    const { format, blobs } = await resizeAll(bitmap);
    bitmap.close();
    say("Uploading…");
    const answer = await askForms(format);
    for (const upload of answer.uploads) await post(upload, blobs[widths.indexOf(upload.width)]);
    say("Adding the image to the product…");
    form.elements.image.value = answer.image;
    form.elements.format.value = format;
    form.submit();
  };

  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    if (!file) return;
    input.disabled = true;
    try {
      await add(file);
    } catch (error) {
      say(error instanceof Refusal ? error.message : `The image could not be added: ${error}`, true);
      input.disabled = false;
      input.value = "";
    }
  });
})();
