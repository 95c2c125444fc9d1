"""The ComfyUI fake refuses what ComfyUI refuses, with its status and body shape, and runs
prompts the way ComfyUI reports them over its WebSocket (sources in
tests/fakes/comfyui_server.py's docstring); no Django."""

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from .base import make_png
from .comfyui_server import FakeComfyUI, img2img_workflow, txt2img_workflow
from .selfcheck_support import fake_fixtures, png_size

pytestmark = pytest.mark.fakes

comfy_server, comfy_fixture = fake_fixtures("comfy", FakeComfyUI)
END = ("execution_success", "execution_error", "execution_interrupted")


def ws_connect(fake, client_id, **kw):
    # max_queue=None: a test that leaves messages unread must not pause the client's reader
    # (it would then miss the server's close frame and wait out close_timeout)
    return connect(fake.ws_url(client_id), open_timeout=5, max_queue=None, **kw)


def post(fake, body, path="/prompt", **kw):
    return httpx.post(fake.base_url + path, json=body, timeout=5, **kw)


def submit(fake, workflow, client_id="c1", **extra):
    return post(fake, {"prompt": workflow, "client_id": client_id, **extra})


def refused(fake, workflow):
    r = submit(fake, workflow)
    assert r.status_code == 400, r.text
    return r.json()


def run(fake, workflow, client_id="c1", until_idle=True, **extra):
    """Submit over a connected WebSocket; return (prompt_id, json messages, binary frames)."""
    with ws_connect(fake, client_id) as ws:
        first = json.loads(ws.recv(timeout=5))
        r = submit(fake, workflow, client_id, **extra)
        assert r.status_code == 200, r.text
        pid = r.json()["prompt_id"]
        msgs, binaries = [first], []
        while True:
            m = ws.recv(timeout=5)
            if isinstance(m, bytes):
                binaries.append(m)
                continue
            m = json.loads(m)
            msgs.append(m)
            if m["type"] == "executing" and m["data"]["node"] is None:
                return pid, msgs, binaries


def own(msgs, pid):
    """The prompt's own messages, in order, without the broadcast status/progress_state."""
    return [m for m in msgs if m["type"] not in ("status", "progress_state")
            and m["data"].get("prompt_id") == pid]  # fmt: skip


def wait_history(fake, pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = httpx.get(f"{fake.base_url}/history/{pid}").json()
        if h:
            return h[pid]
        time.sleep(0.02)
    raise AssertionError("no history entry")


def wait_running(fake, pid=None, timeout=10.0):
    """Wait until ``pid`` (or any prompt) runs: a loaded machine starts it late."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = httpx.get(fake.base_url + "/queue").json()["queue_running"]
        if running and (pid is None or running[0][1] == pid):
            return
        time.sleep(0.02)
    raise AssertionError("the prompt never started")


def view(fake, img):
    return httpx.get(fake.base_url + "/view", params=img)


def upload(fake, name, data, **fields):
    return httpx.post(
        fake.base_url + "/upload/image",
        files={"image": (name, data, "image/png")},
        data={k: str(v) for k, v in fields.items()},
    )


# --------------------------------------------------------------------------- discovery
def test_system_stats_and_object_info_shapes(comfy):
    stats = httpx.get(comfy.base_url + "/system_stats").json()
    assert set(stats["system"]) >= {"os", "ram_total", "ram_free", "comfyui_version",
                                    "python_version", "pytorch_version", "embedded_python",
                                    "argv"}  # fmt: skip
    dev = stats["devices"][0]
    assert set(dev) == {"name", "type", "index", "vram_total", "vram_free",
                        "torch_vram_total", "torch_vram_free"}  # fmt: skip
    info = httpx.get(comfy.base_url + "/object_info").json()
    for name in ("CheckpointLoaderSimple", "CLIPTextEncode", "KSampler", "KSamplerAdvanced",
                 "EmptyLatentImage", "VAEDecode", "VAEEncode", "VAEEncodeForInpaint",
                 "SetLatentNoiseMask", "SaveImage", "PreviewImage", "LoadImage", "LoadImageMask",
                 "ImageScaleBy", "UpscaleModelLoader", "ImageUpscaleWithModel",
                 "ImagePadForOutpaint"):  # fmt: skip
        assert info[name]["name"] == name
        assert set(info[name]) >= {
            "input",
            "input_order",
            "output",
            "output_is_list",
            "output_name",
            "display_name",
            "category",
            "output_node",
        }
    ks = info["KSampler"]
    assert ks["output"] == ["LATENT"] and ks["output_node"] is False
    assert ks["input"]["required"]["steps"] == ["INT", {"default": 20, "min": 1, "max": 10000,
                                                        "step": 1}]  # fmt: skip
    assert "euler" in ks["input"]["required"]["sampler_name"][0]
    assert "karras" in ks["input"]["required"]["scheduler"][0]
    assert ks["input_order"]["required"][:3] == ["model", "seed", "steps"]
    assert info["SaveImage"]["output_node"] is True and info["SaveImage"]["output"] == []
    assert info["CheckpointLoaderSimple"]["output"] == ["MODEL", "CLIP", "VAE"]


def test_object_info_for_one_class_and_unknown_class(comfy):
    one = httpx.get(comfy.base_url + "/object_info/CheckpointLoaderSimple").json()
    assert list(one) == ["CheckpointLoaderSimple"]
    assert one["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == [
        "sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors"]  # fmt: skip
    assert httpx.get(comfy.base_url + "/object_info/NoSuchNode").json() == {}
    assert httpx.get(comfy.base_url + "/api/object_info/KSampler").json()["KSampler"]


def test_uploaded_files_become_load_image_choices(comfy):
    r = upload(comfy, "cat.png", make_png(40, 24))
    assert r.json() == {"name": "cat.png", "subfolder": "", "type": "input"}
    info = httpx.get(comfy.base_url + "/object_info/LoadImage").json()["LoadImage"]
    assert info["input"]["required"]["image"][0] == ["cat.png"]
    assert info["output"] == ["IMAGE", "MASK"]


def test_unknown_route_is_aiohttp_404(comfy):
    r = httpx.get(comfy.base_url + "/v1/models")
    assert (r.status_code, r.text) == (404, "404: Not Found")


# --------------------------------------------------------------------------- /prompt refusals
def test_no_prompt_is_400_no_prompt(comfy):
    r = post(comfy, {"client_id": "x"})
    assert r.status_code == 400
    assert r.json() == {"error": {"type": "no_prompt", "message": "No prompt provided",
                                  "details": "No prompt provided", "extra_info": {}},
                        "node_errors": {}}  # fmt: skip


@pytest.mark.parametrize("prompt", [["not", "a", "dict"], "text", 5, {"1": "node"}])
def test_non_dict_prompt_crashes_like_upstream(comfy, prompt):
    r = post(comfy, {"prompt": prompt})
    assert r.status_code == 500 and r.text.startswith("500 Internal Server Error")
    assert comfy.accepted == []


def test_empty_prompt_has_no_outputs(comfy):
    for prompt in ({}, []):
        body = refused(comfy, prompt)
        assert body["error"]["type"] == "prompt_no_outputs"
        assert body["error"]["message"] == "Prompt has no outputs"


def test_node_without_class_type(comfy):
    wf = txt2img_workflow()
    del wf["6"]["class_type"]
    err = refused(comfy, wf)["error"]
    assert err["type"] == "missing_node_type" and err["details"] == "Node ID '#6'"
    assert err["extra_info"] == {"node_id": "6", "class_type": None, "node_title": None}


def test_unknown_class_type(comfy):
    wf = txt2img_workflow()
    wf["20"] = {"class_type": "ClownsharKSampler_Beta", "inputs": {},
                "_meta": {"title": "ClownsharKSampler"}}  # fmt: skip
    body = refused(comfy, wf)
    assert body["error"]["message"] == ("Node 'ClownsharKSampler' not found. The custom node "
                                        "may not be installed.")  # fmt: skip
    assert body["error"]["extra_info"]["class_type"] == "ClownsharKSampler_Beta"
    assert body["node_errors"] == {}


def test_no_output_node(comfy):
    wf = txt2img_workflow()
    del wf["9"]
    assert refused(comfy, wf)["error"]["type"] == "prompt_no_outputs"


def _node_error(body, node_id):
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["error"]["message"] == "Prompt outputs failed validation"
    entry = body["node_errors"][node_id]
    assert entry["dependent_outputs"] == ["9"]
    return entry


def test_required_input_missing(comfy):
    wf = txt2img_workflow()
    del wf["3"]["inputs"]["steps"]
    entry = _node_error(refused(comfy, wf), "3")
    assert entry["class_type"] == "KSampler"
    assert entry["errors"] == [{"type": "required_input_missing",
                                "message": "Required input is missing", "details": "steps",
                                "extra_info": {"input_name": "steps"}}]  # fmt: skip


def test_link_to_a_missing_node(comfy):
    wf = txt2img_workflow()
    wf["3"]["inputs"]["model"] = ["99", 0]
    body = refused(comfy, wf)
    # KSampler raises inside VAEDecode's recursion: reported on the KSampler
    (err,) = _node_error(body, "3")["errors"]
    assert err["type"] == "exception_during_inner_validation" and err["details"] == "'99'"


def test_link_to_a_missing_node_from_the_output(comfy):
    wf = txt2img_workflow()
    wf["9"]["inputs"]["images"] = ["77", 0]
    (err,) = _node_error(refused(comfy, wf), "9")["errors"]
    assert err["type"] == "exception_during_validation"


def test_link_of_the_wrong_type(comfy):
    wf = txt2img_workflow()
    wf["3"]["inputs"]["positive"] = ["4", 1]  # CLIP, not CONDITIONING
    (err,) = _node_error(refused(comfy, wf), "3")["errors"]
    assert err["type"] == "return_type_mismatch"
    assert err["details"] == "positive, received_type(CLIP) mismatch input_type(CONDITIONING)"
    assert err["extra_info"]["linked_node"] == ["4", 1]


def test_bad_link_shape(comfy):
    wf = txt2img_workflow()
    wf["3"]["inputs"]["model"] = ["4", 0, 1]
    (err,) = _node_error(refused(comfy, wf), "3")["errors"]
    assert err["type"] == "bad_linked_input"


@pytest.mark.parametrize(
    ("node", "field", "value", "type_", "message"),
    [
        ("3", "steps", 0, "value_smaller_than_min", "Value 0 smaller than min of 1"),
        ("3", "cfg", 101, "value_bigger_than_max", "Value 101.0 bigger than max of 100.0"),
        ("5", "width", 20000, "value_bigger_than_max", "Value 20000 bigger than max of 16384"),
        ("5", "batch_size", 0, "value_smaller_than_min", "Value 0 smaller than min of 1"),
        ("3", "seed", -1, "value_smaller_than_min", "Value -1 smaller than min of 0"),
        ("3", "steps", "many", "invalid_input_type",
         "Failed to convert an input value to a INT value"),
    ],
)  # fmt: skip
def test_values_out_of_range(comfy, node, field, value, type_, message):
    wf = txt2img_workflow()
    wf[node]["inputs"][field] = value
    body = refused(comfy, wf)
    (err,) = body["node_errors"][node]["errors"]
    assert (err["type"], err["message"]) == (type_, message)
    # upstream lists only the output node's own reasons in details: empty for an inner node
    assert body["error"]["details"] == ""


def test_details_list_the_output_nodes_own_errors(comfy):
    wf = txt2img_workflow()
    wf["9"]["inputs"]["filename_prefix"] = ["8", 0]  # an IMAGE into a STRING
    del wf["9"]["inputs"]["images"]
    body = refused(comfy, wf)
    assert body["error"]["details"] == (
        "Required input is missing: images\nReturn type mismatch between linked nodes: "
        "filename_prefix, received_type(IMAGE) mismatch input_type(STRING)"
    )


def test_unknown_checkpoint_is_value_not_in_list(comfy):
    wf = txt2img_workflow(ckpt="flux1-dev.safetensors")
    (err,) = _node_error(refused(comfy, wf), "4")["errors"]
    assert err["type"] == "value_not_in_list"
    assert err["details"] == ("ckpt_name: 'flux1-dev.safetensors' not in "
                              "['sd_xl_base_1.0.safetensors', "
                              "'v1-5-pruned-emaonly.safetensors']")  # fmt: skip


def test_long_combo_lists_are_summarised(comfy):
    wf = txt2img_workflow()
    wf["3"]["inputs"]["sampler_name"] = "euler_magic"
    (err,) = _node_error(refused(comfy, wf), "3")["errors"]
    assert err["details"].startswith("sampler_name: 'euler_magic' not in (list of length ")
    assert err["extra_info"]["input_config"] is None


def test_load_image_of_a_file_never_uploaded(comfy):
    (err,) = _node_error(refused(comfy, img2img_workflow("ghost.png")), "10")["errors"]
    assert err == {"type": "custom_validation_failed",
                   "message": "Custom validation failed for node",
                   "details": "image - Invalid image file: ghost.png",
                   "extra_info": {"input_name": "image"}}  # fmt: skip


def test_a_refused_prompt_is_not_queued(comfy):
    refused(comfy, txt2img_workflow(ckpt="nope.safetensors"))
    assert comfy.accepted == [] and len(comfy.prompts) == 1
    assert httpx.get(comfy.base_url + "/queue").json() == {"queue_running": [], "queue_pending": []}


# --------------------------------------------------------------------------- execution
def test_the_message_sequence_of_a_successful_prompt(comfy):
    pid, msgs, binaries = run(comfy, txt2img_workflow(steps=5))
    assert msgs[0]["type"] == "status" and msgs[0]["data"]["sid"] == "c1"
    types = [m["type"] for m in own(msgs, pid)]
    assert types[:2] == ["execution_start", "execution_cached"]
    assert own(msgs, pid)[1]["data"]["nodes"] == []
    assert types[-3:] == ["executed", "execution_success", "executing"]
    executing = [m["data"]["node"] for m in own(msgs, pid) if m["type"] == "executing"]
    assert set(executing[:-1]) == set(txt2img_workflow()) and executing[-1] is None
    assert executing.index("4") < executing.index("3") < executing.index("8") < \
        executing.index("9")  # fmt: skip
    progress = [m["data"] for m in own(msgs, pid) if m["type"] == "progress"]
    assert [p["value"] for p in progress] == [1, 2, 3, 4, 5]
    assert {p["max"] for p in progress} == {5} and {p["node"] for p in progress} == {"3"}
    executed = next(m["data"] for m in own(msgs, pid) if m["type"] == "executed")
    assert executed["node"] == "9"
    assert executed["output"] == {"images": [{"filename": "ComfyUI_00001_.png",
                                              "subfolder": "", "type": "output"}]}  # fmt: skip
    # one binary preview: event 1 (PREVIEW_IMAGE), image type 1 (JPEG), then the JPEG
    (frame,) = binaries
    assert frame[:8] == b"\x00\x00\x00\x01\x00\x00\x00\x01" and frame[8:10] == b"\xff\xd8"


def test_history_entry_and_timings(comfy):
    pid, msgs, _ = run(comfy, txt2img_workflow(steps=3), number=7)
    h = httpx.get(f"{comfy.base_url}/history/{pid}").json()[pid]
    assert h["prompt"][:2] == [7.0, pid] and h["prompt"][4] == ["9"]
    assert h["prompt"][3]["client_id"] == "c1"
    assert h["status"]["status_str"] == "success" and h["status"]["completed"] is True
    events = dict(h["status"]["messages"])
    assert list(events) == ["execution_start", "execution_cached", "execution_success"]
    start, end = events["execution_start"]["timestamp"], events["execution_success"]["timestamp"]
    assert isinstance(start, int) and end >= start + 20  # 3 steps of 10 ms, in ms
    assert h["outputs"]["9"]["images"][0]["filename"] == "ComfyUI_00001_.png"
    assert pid in httpx.get(comfy.base_url + "/history").json()
    assert httpx.get(comfy.base_url + "/history/unknown").json() == {}


def test_images_have_the_latent_size_and_follow_the_seed(comfy):
    a = run(comfy, txt2img_workflow(seed=1, width=640, height=324, batch_size=2))[0]
    b = run(comfy, txt2img_workflow(seed=2, width=640, height=324))[0]
    c = run(comfy, txt2img_workflow(seed=1, width=640, height=324))[0]
    imgs = {p: wait_history(comfy, p)["outputs"]["9"]["images"] for p in (a, b, c)}
    assert [i["filename"] for i in imgs[a]] == ["ComfyUI_00001_.png", "ComfyUI_00002_.png"]
    data = {p: [view(comfy, i).content for i in imgs[p]] for p in imgs}
    assert png_size(data[a][0]) == (640, 320)  # 324 // 8 * 8
    assert data[a][0] != data[b][0] and data[a][0] != data[a][1]
    assert data[a][0] == data[c][0]  # same seed, same pixels


def test_img2img_uses_the_uploaded_size_then_scales(comfy):
    name = upload(comfy, "in.png", make_png(203, 100)).json()["name"]
    p1 = run(comfy, img2img_workflow(name))[0]
    p2 = run(comfy, img2img_workflow(name, scale_by=1.5))[0]
    p3 = run(comfy, img2img_workflow(name, upscale_model="RealESRGAN_x4plus.pth"))[0]
    sizes = [png_size(view(comfy, wait_history(comfy, p)["outputs"]["9"]["images"][0]).content)
             for p in (p1, p2, p3)]  # fmt: skip
    assert sizes == [(200, 96), (300, 144), (800, 384)]


def test_preview_image_goes_to_temp(comfy):
    wf = txt2img_workflow()
    wf["9"] = {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}}
    pid = run(comfy, wf)[0]
    (img,) = wait_history(comfy, pid)["outputs"]["9"]["images"]
    assert img["type"] == "temp" and img["filename"].startswith("ComfyUI_temp_")
    assert view(comfy, img).status_code == 200
    assert view(comfy, {**img, "type": "output"}).status_code == 404


def test_node_error_scenario(comfy):
    comfy.set_scenario("node_error", at_step=2, message="CUDA out of memory",
                       exception_type="torch.OutOfMemoryError")  # fmt: skip
    pid, msgs, _ = run(comfy, txt2img_workflow(steps=6))
    mine = own(msgs, pid)
    assert [p["data"]["value"] for p in mine if p["type"] == "progress"] == [1, 2]
    err = next(m["data"] for m in mine if m["type"] == "execution_error")
    assert (err["node_id"], err["node_type"]) == ("3", "KSampler")
    assert err["exception_message"] == "CUDA out of memory"
    assert err["exception_type"] == "torch.OutOfMemoryError"
    assert isinstance(err["traceback"], list) and "4" in err["executed"]
    assert not any(m["type"] in ("execution_success", "executed") for m in mine)
    h = wait_history(comfy, pid)
    assert h["status"]["status_str"] == "error" and h["status"]["completed"] is False
    assert h["outputs"] == {}
    assert [e for e, _ in h["status"]["messages"]][-1] == "execution_error"


def test_one_prompt_at_a_time_and_queue_shape(comfy):
    comfy.set_scenario("slow", step_seconds=0.05)
    with ws_connect(comfy, "q"):
        a = submit(comfy, txt2img_workflow(steps=40), "q").json()["prompt_id"]
        b = submit(comfy, txt2img_workflow(seed=3, steps=1), "q").json()["prompt_id"]
        wait_running(comfy, a)  # and 2 s to run: the queue is read while it does
        q = httpx.get(comfy.base_url + "/queue").json()
        assert [x[1] for x in q["queue_running"]] == [a]
        assert [x[1] for x in q["queue_pending"]] == [b]
        number, pid, prompt, extra, outputs = q["queue_pending"][0]
        assert (number, outputs, extra["client_id"]) == (1, ["9"], "q")
        assert prompt["3"]["inputs"]["seed"] == 3
        assert httpx.get(comfy.base_url + "/prompt").json() == {"exec_info": {"queue_remaining": 2}}
        ha, hb = wait_history(comfy, a), wait_history(comfy, b)
    start_b = dict(hb["status"]["messages"])["execution_start"]["timestamp"]
    end_a = dict(ha["status"]["messages"])["execution_success"]["timestamp"]
    assert start_b >= end_a


def test_delete_while_pending(comfy):
    comfy.set_scenario("slow", step_seconds=0.05)
    a = submit(comfy, txt2img_workflow(steps=20)).json()["prompt_id"]
    b = submit(comfy, txt2img_workflow(seed=9)).json()["prompt_id"]
    wait_running(comfy, a)
    assert post(comfy, {"delete": [b, a]}, "/queue").status_code == 200
    assert comfy.queue_deletes == [
        {"delete": b, "removed": True},
        {"delete": a, "removed": False},
    ]  # running: not deleted
    assert httpx.get(comfy.base_url + "/queue").json()["queue_pending"] == []
    assert wait_history(comfy, a)["status"]["status_str"] == "success"
    time.sleep(0.2)
    assert httpx.get(f"{comfy.base_url}/history/{b}").json() == {}


def test_clear_the_queue(comfy):
    comfy.set_scenario("slow", step_seconds=0.05)
    submit(comfy, txt2img_workflow(steps=40))
    for seed in (1, 2):
        submit(comfy, txt2img_workflow(seed=seed))
    wait_running(comfy)  # a queued prompt would be cleared like the others
    post(comfy, {"clear": True}, "/queue")
    q = httpx.get(comfy.base_url + "/queue").json()
    assert q["queue_pending"] == [] and len(q["queue_running"]) == 1


def test_interrupt_while_running(comfy):
    comfy.set_scenario("slow", step_seconds=0.05)
    with ws_connect(comfy, "i") as ws:
        pid = submit(comfy, txt2img_workflow(steps=40), "i").json()["prompt_id"]
        msgs = []
        while not any(m.get("type") == "progress" and m["data"]["value"] == 2 for m in msgs):
            m = ws.recv(timeout=5)
            msgs.append(json.loads(m) if isinstance(m, str) else {})
        other = post(comfy, {"prompt_id": "not-running"}, "/interrupt")
        time.sleep(0.12)
        assert other.status_code == 200
        assert post(comfy, {"prompt_id": pid}, "/interrupt").status_code == 200
        while not (msgs[-1].get("type") == "executing" and msgs[-1]["data"]["node"] is None):
            m = ws.recv(timeout=5)
            msgs.append(json.loads(m) if isinstance(m, str) else {})
    mine = own([m for m in msgs if m], pid)
    values = [m["data"]["value"] for m in mine if m["type"] == "progress"]
    assert 3 <= values[-1] < 40  # kept going after the wrong id, stopped after the right one
    stop = next(m["data"] for m in mine if m["type"] == "execution_interrupted")
    assert (stop["node_id"], stop["node_type"]) == ("3", "KSampler")
    assert comfy.interrupts == [{"prompt_id": "not-running", "applied": False},
                                {"prompt_id": pid, "applied": True}]  # fmt: skip
    h = wait_history(comfy, pid)
    assert h["status"]["status_str"] == "error" and h["outputs"] == {}
    assert "execution_success" not in [e for e, _ in h["status"]["messages"]]


def test_global_interrupt_without_a_body(comfy):
    comfy.set_scenario("slow", step_seconds=0.05)
    pid = submit(comfy, txt2img_workflow(steps=40)).json()["prompt_id"]
    time.sleep(0.15)
    assert httpx.post(comfy.base_url + "/interrupt").status_code == 200
    assert wait_history(comfy, pid)["status"]["status_str"] == "error"


def test_messages_go_only_to_the_submitting_client(comfy):
    with ws_connect(comfy, "other") as other:
        pid, _, _ = run(comfy, txt2img_workflow(steps=2))
        seen = []
        try:
            while True:
                m = other.recv(timeout=0.2)
                seen.append(json.loads(m) if isinstance(m, str) else "binary")
        except TimeoutError:
            pass
    types = {m["type"] for m in seen if m != "binary"}
    assert "binary" not in seen and types <= {"status", "progress_state"}
    assert "status" in types


# --------------------------------------------------------------------------- files
def test_view_refusals(comfy):
    pid = run(comfy, txt2img_workflow(steps=1))[0]
    img = wait_history(comfy, pid)["outputs"]["9"]["images"][0]
    ok = view(comfy, img)
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    assert view(comfy, {"filename": "../secret.png", "type": "output"}).status_code == 400
    assert view(comfy, {"filename": "/etc/passwd"}).status_code == 400
    assert view(comfy, {**img, "subfolder": "../../etc"}).status_code == 403
    assert view(comfy, {**img, "type": "models"}).status_code == 400
    assert view(comfy, {**img, "filename": "ComfyUI_99999_.png"}).status_code == 404
    assert view(comfy, {"filename": f"{img['filename']} [output]"}).status_code == 200
    assert httpx.get(comfy.base_url + "/view").status_code == 404


def test_upload_renames_on_collision_unless_overwrite_or_identical(comfy):
    a, b = make_png(8, 8, (1, 2, 3)), make_png(8, 8, (4, 5, 6))
    assert upload(comfy, "x.png", a).json()["name"] == "x.png"
    assert upload(comfy, "x.png", a).json()["name"] == "x.png"  # same bytes: a duplicate
    assert upload(comfy, "x.png", b).json()["name"] == "x (1).png"
    assert upload(comfy, "x.png", b, overwrite="true").json()["name"] == "x.png"
    assert comfy.files[("input", "", "x.png")] == b
    sub = upload(comfy, "y.png", a, subfolder="pets", type="input").json()
    assert sub == {"name": "y.png", "subfolder": "pets", "type": "input"}
    assert view(comfy, {"filename": "y.png", "subfolder": "pets", "type": "input"}).content == a
    assert len(comfy.uploads) == 5


def test_upload_refusals(comfy):
    assert upload(comfy, "x.png", make_png(), subfolder="../..").status_code == 400
    r = httpx.post(comfy.base_url + "/upload/image", data={"image": "not a file"})
    assert r.status_code == 400
    r = httpx.post(comfy.base_url + "/upload/image", files={"other": ("a.png", b"x")})
    assert r.status_code == 400
    assert upload(comfy, "x.png", make_png(), type="models").status_code == 500
    assert comfy.files == {}


def test_upload_mask_puts_the_mask_alpha_on_the_original(comfy):
    upload(comfy, "photo.png", make_png(10, 6, (200, 10, 10)))
    mask = Image.new("RGBA", (10, 6), (0, 0, 0, 255))
    mask.putpixel((0, 0), (0, 0, 0, 0))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    r = httpx.post(comfy.base_url + "/upload/mask",
                   files={"image": ("clipspace-mask.png", buf.getvalue(), "image/png")},
                   data={"original_ref": json.dumps({"filename": "photo.png", "type": "input",
                                                     "subfolder": ""}),
                         "type": "input", "subfolder": "clipspace"})  # fmt: skip
    assert r.json() == {"name": "clipspace-mask.png", "subfolder": "clipspace", "type": "input"}
    merged = Image.open(io.BytesIO(comfy.files[("input", "clipspace", "clipspace-mask.png")]))
    assert merged.mode == "RGBA" and merged.getpixel((0, 0)) == (200, 10, 10, 0)
    assert merged.getpixel((5, 5)) == (200, 10, 10, 255)
    wf = txt2img_workflow()
    wf["10"] = {"class_type": "LoadImageMask", "inputs": {
        "image": "clipspace/clipspace-mask.png [input]", "channel": "alpha"}}  # fmt: skip
    wf["11"] = {
        "class_type": "SetLatentNoiseMask",
        "inputs": {"samples": ["5", 0], "mask": ["10", 0]},
    }
    wf["3"]["inputs"]["latent_image"] = ["11", 0]
    assert submit(comfy, wf).status_code == 200


# --------------------------------------------------------------------------- ws, lifecycle
def test_websocket_ping_close_and_bad_upgrade(comfy):
    with ws_connect(comfy, "p") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "status"
        ws.ping(b"hi").wait(timeout=5)  # answered with a pong
        assert comfy.ws_clients == ["p"]
    assert ws.close_code == 1000
    deadline = time.monotonic() + 5
    while comfy.ws_clients and time.monotonic() < deadline:
        time.sleep(0.02)
    assert comfy.ws_clients == []
    r = httpx.get(comfy.base_url + "/ws?clientId=x")
    assert r.status_code == 400 and "WebSocket" in r.text


def test_no_ws_scenario_leaves_history_polling(comfy):
    comfy.set_scenario("no_ws")
    assert httpx.get(comfy.base_url + "/ws").status_code == 404
    with pytest.raises(InvalidStatus) as exc:
        ws_connect(comfy, "n")
    assert exc.value.response.status_code == 404
    pid = submit(comfy, txt2img_workflow(steps=2)).json()["prompt_id"]
    assert wait_history(comfy, pid)["status"]["completed"] is True


def test_die_and_come_back():
    with FakeComfyUI(options={"step_seconds": 0.05}) as fake:
        url = fake.base_url
        with ws_connect(fake, "d") as ws:
            pid = submit(fake, txt2img_workflow(steps=40), "d").json()["prompt_id"]
            wait_running(fake, pid)
            fake.die()
            with pytest.raises(httpx.ConnectError):
                httpx.get(url + "/queue", timeout=1)
            with pytest.raises(ConnectionClosed):  # the socket was dropped
                while True:
                    ws.recv(timeout=2)
        fake.come_back()
        assert fake.base_url == url
        assert httpx.get(url + "/queue").json() == {"queue_running": [], "queue_pending": []}
        assert httpx.get(url + "/history").json() == {}
        time.sleep(0.1)
        assert httpx.get(f"{url}/history/{pid}").json() == {}  # the running job was lost
        again = submit(fake, txt2img_workflow(steps=1)).json()["prompt_id"]
        assert wait_history(fake, again)["status"]["status_str"] == "success"
        assert fake.server_errors == []


@pytest.mark.parametrize(
    ("kw", "good"),
    [({"basic_auth": ("team", "s3cret")}, "Basic " + base64.b64encode(b"team:s3cret").decode()),
     ({"bearer": "tok"}, "Bearer tok")],
)  # fmt: skip
def test_auth_guards_every_route(kw, good):
    with FakeComfyUI(**kw) as fake:
        for path in ("/system_stats", "/object_info", "/queue", "/history", "/view", "/ws"):
            r = httpx.get(fake.base_url + path)
            assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        assert post(fake, {"prompt": txt2img_workflow()}).status_code == 401
        assert (
            post(
                fake, {"prompt": txt2img_workflow()}, headers={"Authorization": "Bearer wrong"}
            ).status_code
            == 401
        )
        with pytest.raises(InvalidStatus) as exc:
            ws_connect(fake, "a")
        assert exc.value.response.status_code == 401
        h = {"Authorization": good}
        assert httpx.get(fake.base_url + "/system_stats", headers=h).status_code == 200
        with ws_connect(fake, "a", additional_headers=h) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "status"
            r = post(fake, {"prompt": txt2img_workflow(steps=1), "client_id": "a"}, headers=h)
            assert r.status_code == 200
        assert fake.accepted == [r.json()["prompt_id"]]
        assert fake.server_errors == []


def test_outpaint_with_the_advanced_sampler(comfy):
    upload(comfy, "room.png", make_png(100, 60))
    wf = txt2img_workflow()
    del wf["5"], wf["3"]
    wf["10"] = {"class_type": "LoadImage", "inputs": {"image": "room.png"}}
    wf["11"] = {
        "class_type": "ImagePadForOutpaint",
        "inputs": {
            "image": ["10", 0],
            "left": 64,
            "top": 0,
            "right": 64,
            "bottom": 8,
            "feathering": 40,
        },
    }
    wf["12"] = {
        "class_type": "VAEEncodeForInpaint",
        "inputs": {"pixels": ["11", 0], "vae": ["4", 2], "mask": ["11", 1], "grow_mask_by": 6},
    }
    wf["3"] = {"class_type": "KSamplerAdvanced", "inputs": {
        "model": ["4", 0], "add_noise": "enable", "noise_seed": 5, "steps": 10, "cfg": 6.0,
        "sampler_name": "dpmpp_2m", "scheduler": "karras", "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": ["12", 0], "start_at_step": 4,
        "end_at_step": 10000, "return_with_leftover_noise": "disable"}}  # fmt: skip
    pid, msgs, _ = run(comfy, wf)
    progress = [m["data"] for m in own(msgs, pid) if m["type"] == "progress"]
    assert [p["value"] for p in progress] == [1, 2, 3, 4, 5, 6] and progress[0]["max"] == 6
    img = wait_history(comfy, pid)["outputs"]["9"]["images"][0]
    assert png_size(view(comfy, img).content) == (224, 64)  # (100+128)//8*8, (60+8)//8*8


def test_an_upload_without_a_filename_is_400(comfy):
    r = httpx.post(comfy.base_url + "/upload/image", files={"image": ("", make_png())})
    assert r.status_code == 400 and comfy.files == {}


def test_a_reconnecting_client_is_told_the_running_node(comfy):
    comfy.set_scenario("slow", step_seconds=0.05)
    pid = submit(comfy, txt2img_workflow(steps=20), "back").json()["prompt_id"]
    wait_running(comfy, pid)
    time.sleep(0.2)
    with ws_connect(comfy, "back") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "status"
        assert json.loads(ws.recv(timeout=5)) == {"type": "executing", "data": {"node": "3"}}
    post(comfy, {"prompt_id": pid}, "/interrupt")
