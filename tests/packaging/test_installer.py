"""Packaging: the PyInstaller spec, the version resource, the app icon and the Windows installer.

The fast tests run in CI: the spec is executed with stand-ins for PyInstaller's build classes (so
they check what the build would be given, without building), and the NSIS script is compiled by
makensis against a tiny fake bundle when makensis is installed (Debian: `apt-get install nsis`).

The slow ones build and exercise the real thing; they run only when asked for, with
`pytest -m slow tests/packaging` (or BNGSYNC_PACKAGING_SLOW=1):
- the Linux bundle, built and smoke-tested by packaging/build_linux.sh (~1–2 min);
- the installer run under Wine (`wine64`, when installed): install, upgrade, uninstall keeping
  and removing the user's data.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "bngsync.spec"
NSI = PACKAGING / "installer.nsi"

sys.path.insert(0, str(PACKAGING))
import version_info  # noqa: E402  (packaging/version_info.py)

MAKENSIS = shutil.which("makensis")
needs_makensis = pytest.mark.skipif(
    MAKENSIS is None, reason="makensis not installed (Debian: apt-get install nsis); the installer is not compiled")


def opted_in(config: pytest.Config) -> bool:
    """Slow packaging tests run only when asked: `-m slow` (not `not slow`) or the environment."""
    markexpr = config.getoption("markexpr", default="") or ""
    return os.environ.get("BNGSYNC_PACKAGING_SLOW") == "1" or bool(re.search(r"(?<!not )\bslow\b", markexpr))


@pytest.fixture
def slow_opt_in(request: pytest.FixtureRequest) -> None:
    if not opted_in(request.config):
        pytest.skip("builds the real thing: run with `pytest -m slow tests/packaging` or BNGSYNC_PACKAGING_SLOW=1")


# -- the spec ------------------------------------------------------------------------------------
class _Recorder:
    """Stands in for one of PyInstaller's build classes and remembers how it was called."""

    calls: list[tuple[str, tuple, dict]]

    def __init__(self, kind: str, calls: list):
        self.kind, self.calls = kind, calls

    def __call__(self, *args, **kwargs):
        self.calls.append((self.kind, args, kwargs))
        result = types.SimpleNamespace(args=args, kwargs=kwargs, pure=[], scripts=[], binaries=[],
                                       datas=list(kwargs.get("datas", [])))
        if self.kind == "Analysis":
            # what the hooks would add: some kept, some dropped by the spec's data filter
            result.datas = [(dest, "src", "DATA") for dest in SAMPLE_DATAS]
        return result


SAMPLE_DATAS = [
    "babel/global.dat", "babel/locale-data/en.dat", "babel/locale-data/de.dat", "babel/locale-data/root.dat",
    "pycountry/databases/iso3166-1.json", "pycountry/locales/de/LC_MESSAGES/iso3166-1.mo",
    "PySide6/Qt/translations/qtbase_de.qm", "agent/sandbox/data/bng-sample-data.json",
    "resources/icons/app.svg", "usaddress/usaddr.crfsuite",
]


def run_spec(tmp_path: Path, platform: str = "linux", has_tray: bool | None = None) -> dict:
    """Execute the spec as PyInstaller would, with recording stand-ins; return what it built."""
    calls: list = []
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [f"{package}.(all)"]
    hooks.collect_data_files = lambda package: [(f"/site/{package}/data", package)]
    modules = {"PyInstaller": types.ModuleType("PyInstaller"),
               "PyInstaller.utils": types.ModuleType("PyInstaller.utils"), "PyInstaller.utils.hooks": hooks}
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(PACKAGING),
                 "workpath": str(tmp_path / "work"), "DISTPATH": str(tmp_path / "dist")}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT"):
        namespace[kind] = _Recorder(kind, calls)
    saved_modules = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    real_platform, real_exists = sys.platform, Path.exists
    try:
        sys.platform = platform
        if has_tray is not None:
            def exists(path: Path, *args, **kwargs) -> bool:
                return has_tray if path == ROOT / "ui" / "app.py" else real_exists(path, *args, **kwargs)

            Path.exists = exists
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    finally:
        sys.platform, Path.exists = real_platform, real_exists
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return {"calls": calls, "namespace": namespace,
            "of": lambda kind: [(a, k) for c, a, k in calls if c == kind]}


def test_spec_builds_both_programs_into_one_folder(tmp_path):
    built = run_spec(tmp_path, has_tray=True)
    exes = built["of"]("EXE")
    assert [k["name"] for _, k in exes] == ["bngsync", "bngsync-tray"]
    assert [k["console"] for _, k in exes] == [True, False]  # the tray app has no console window
    assert all(k["exclude_binaries"] for _, k in exes)  # libraries go to the shared folder
    collects = built["of"]("COLLECT")
    assert len(collects) == 1 and collects[0][1]["name"] == "bngsync"
    # both executables and both programs' libraries and data are in that one COLLECT
    assert len(collects[0][0]) == 6


def test_spec_without_the_tray_app_builds_the_command_line(tmp_path):
    built = run_spec(tmp_path, has_tray=False)
    assert [k["name"] for _, k in built["of"]("EXE")] == ["bngsync"]


def test_spec_entry_points_match_pyproject(tmp_path):
    run_spec(tmp_path, has_tray=True)
    entries = tmp_path / "work" / "entry"
    assert "from agent.cli import main" in (entries / "bngsync_cli.py").read_text()
    assert "from ui.app import main" in (entries / "bngsync_tray.py").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'bngsync = "agent.cli:main"' in pyproject and 'bngsync-tray = "ui.app:main"' in pyproject


def test_spec_keeps_the_bundle_lean(tmp_path):
    built = run_spec(tmp_path, has_tray=True)
    _, analysis = built["of"]("Analysis")[0]
    excludes = set(analysis["excludes"])
    for module in ("PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "PySide6.QtQuick", "PySide6.QtQml",
                   "PySide6.QtMultimedia", "PySide6.QtCharts", "PySide6.QtPdf", "PySide6.QtSql", "PySide6.QtTest",
                   "PySide6.QtBluetooth", "PySide6.QtPositioning", "PySide6.QtSensors", "PySide6.QtSerialPort",
                   "PySide6.QtDesigner", "PySide6.QtOpenGL", "tkinter", "pytest", "hypothesis", "IPython"):
        assert module in excludes, module
    # what the app does use must not be excluded
    for module in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg", "PySide6.QtNetwork",
                   "sqlite3", "yaml", "email", "xml"):
        assert module not in excludes, module
    # Qt plugins and libraries: the desktop's platform, style, icon and SVG plugins stay (Linux and
    # Windows layouts), embedded platforms, OpenGL, Qt's TLS go
    keep_binary = built["namespace"]["keep_binary"]
    for kept in ("PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
                 "PySide6/plugins/platforms/qwindows.dll", "PySide6/plugins/styles/qmodernwindowsstyle.dll",
                 "PySide6/Qt/plugins/iconengines/libqsvgicon.so", "PySide6/plugins/imageformats/qsvg.dll",
                 "PySide6/plugins/imageformats/qico.dll", "PySide6/Qt/lib/libQt6Widgets.so.6", "PySide6/Qt6Gui.dll",
                 "libpython3.11.so.1.0"):
        assert keep_binary(kept), kept
    for dropped in ("PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/plugins/tls/qschannelbackend.dll",
                    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", "PySide6/opengl32sw.dll",
                    "PySide6/plugins/imageformats/qjpeg.dll", "libQt6OpenGL.so.6", "PySide6/Qt6OpenGL.dll"):
        assert not keep_binary(dropped), dropped
    # the data filter: translations and unused locales out, what the agent reads in
    keep = built["namespace"]["keep_data"]
    kept = {dest for dest in SAMPLE_DATAS if keep(dest)}
    assert kept == {"babel/global.dat", "babel/locale-data/en.dat", "babel/locale-data/root.dat",
                    "pycountry/databases/iso3166-1.json", "agent/sandbox/data/bng-sample-data.json",
                    "resources/icons/app.svg", "usaddress/usaddr.crfsuite"}


def test_spec_collects_what_is_loaded_by_name(tmp_path):
    built = run_spec(tmp_path, has_tray=True)
    _, analysis = built["of"]("Analysis")[0]
    # flows are imported by name (agent/flows/__init__.py): every agent module is collected
    assert "agent.(all)" in analysis["hiddenimports"] and "ui.(all)" in analysis["hiddenimports"]
    datas = dict((dest, src) for src, dest in analysis["datas"])
    assert Path(datas["agent/sandbox/data"]) == ROOT / "agent" / "sandbox" / "data"
    assert "usaddress" in datas  # the address parser's trained model
    assert Path(datas["resources"]) == ROOT / "resources"
    # the data the sandbox and the demo read at run time is where the spec takes it from
    assert (ROOT / "agent" / "sandbox" / "data" / "bng-sample-data.json").exists()
    assert (ROOT / "agent" / "sandbox" / "data" / "nop-sample-data.json").exists()


def test_spec_gives_windows_executables_a_version_and_an_icon(tmp_path):
    pytest.importorskip("PySide6.QtSvg")
    built = run_spec(tmp_path, platform="win32", has_tray=True)
    for _, exe in built["of"]("EXE"):
        text = Path(exe["version"]).read_text(encoding="utf-8")
        assert f"StringStruct('ProductVersion', '{version_info.product_version()}')" in text
        assert f"StringStruct('OriginalFilename', '{exe['name']}.exe')" in text
        assert Path(exe["icon"]).read_bytes()[:4] == b"\0\0\1\0"  # an .ico
        assert exe["strip"] is False and exe["upx"] is False
    # Linux: no version resource, no icon, symbols stripped
    built = run_spec(tmp_path / "linux", platform="linux", has_tray=True)
    for _, exe in built["of"]("EXE"):
        assert exe["version"] is None and exe["icon"] is None and exe["strip"] is True


# -- version -------------------------------------------------------------------------------------
def test_version_comes_from_the_agent_package():
    import agent

    assert version_info.product_version() == agent.__version__


@pytest.mark.parametrize(("version", "numbers"), [
    ("0.1.0", (0, 1, 0, 0)), ("1.2.3rc1", (1, 2, 3, 0)), ("1.2.dev3", (1, 2, 0, 0)), ("2", (2, 0, 0, 0)),
    ("1.2.3.4.5", (1, 2, 3, 4)), ("10.0.0+local", (10, 0, 0, 0)), ("1.99999.0", (1, 65535, 0, 0)),
])
def test_numeric_version_for_windows(version, numbers):
    assert version_info.numeric_version(version) == numbers


def test_version_resource_is_what_pyinstaller_reads():
    text = version_info.version_resource("bngsync", "1.2.3rc1")
    # PyInstaller eval()s the text with its versioninfo classes in scope: check it with stand-ins
    recorded: dict[str, str] = {}

    def string_struct(key, value):
        recorded[key] = value

    names = {name: (lambda *a, **k: (a, k)) for name in
             ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "VarFileInfo", "VarStruct")}
    names["StringStruct"] = string_struct
    ast.parse(text, mode="eval")
    eval(compile(text, "version.txt", "eval"), names)
    assert recorded["ProductVersion"] == "1.2.3rc1" and recorded["OriginalFilename"] == "bngsync.exe"
    assert "filevers=(1, 2, 3, 0)" in text


# -- the app icon --------------------------------------------------------------------------------
def test_app_icon_is_a_multi_size_ico(tmp_path):
    pytest.importorskip("PySide6.QtSvg")
    import app_icon

    data = app_icon.write_ico(tmp_path / "bngsync.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(app_icon.SIZES))
    sizes = [data[6 + 16 * i] or 256 for i in range(count)]
    assert sizes == list(app_icon.SIZES)


# -- the installer ---------------------------------------------------------------------------------
def fake_bundle(folder: Path, tray: bool = True, marker: str = "1") -> Path:
    """A few small files named like the real bundle's."""
    bundle = folder / "bngsync"
    (bundle / "_internal" / "agent").mkdir(parents=True)
    (bundle / "bngsync.exe").write_bytes(b"MZ fake command line " + marker.encode())
    if tray:
        (bundle / "bngsync-tray.exe").write_bytes(b"MZ fake tray app " + marker.encode())
    (bundle / "_internal" / "base_library.zip").write_bytes(b"PK fake")
    (bundle / "_internal" / "agent" / f"v{marker}.txt").write_text(marker)
    return bundle


def makensis(bundle: Path, out: Path, version: str = "0.1.0", *extra: str) -> subprocess.CompletedProcess:
    args = [MAKENSIS, "-V2", "-WX", "-DFAST", f"-DVERSION={version}", f"-DBUNDLE={bundle}", f"-DOUTFILE={out}",
            *extra, str(NSI)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def assert_windows_program(path: Path) -> bytes:
    data = path.read_bytes()
    assert data[:2] == b"MZ"
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    assert data[pe_offset:pe_offset + 4] == b"PE\0\0"
    return data


@needs_makensis
def test_installer_compiles_from_a_bundle_folder(tmp_path):
    bundle = fake_bundle(tmp_path)
    out = tmp_path / "out" / "bngsync-0.1.0-setup.exe"
    out.parent.mkdir()
    result = makensis(bundle, out, "0.1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    data = assert_windows_program(out)
    # the version is in the installer's version resource (UTF-16, as Windows stores it)
    assert "0.1.0".encode("utf-16-le") in data and "bngsync".encode("utf-16-le") in data


@needs_makensis
def test_installer_of_a_command_line_only_bundle(tmp_path):
    out = tmp_path / "bngsync-cli-setup.exe"
    result = makensis(fake_bundle(tmp_path, tray=False), out, "1.2.3rc1", "-DVERSION4=1.2.3.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_windows_program(out)


@needs_makensis
def test_installer_needs_a_version_and_a_bundle(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = makensis(empty, tmp_path / "x.exe")
    assert result.returncode != 0 and "bngsync.exe not found" in result.stdout + result.stderr
    result = subprocess.run([MAKENSIS, "-V1", f"-DBUNDLE={fake_bundle(tmp_path)}", str(NSI)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "/DVERSION" in result.stdout + result.stderr


def test_installer_keeps_user_data_unless_asked():
    """What the script does to the user's data, read from the script (the Wine test runs it)."""
    script = NSI.read_text(encoding="utf-8")
    # the data folder is the one the app uses (platformdirs on Windows: %LOCALAPPDATA%\author\app)
    assert '!define DATA_SUBDIR "bngsync\\bngsync"' in script
    # it is removed only in the optional, unticked-by-default uninstaller section
    removal = script[script.index('Section /o "un.Remove my data'):]
    removal = removal[:removal.index("SectionEnd")]
    assert 'RMDir /r "$LOCALAPPDATA\\${DATA_SUBDIR}"' in removal
    rest = script.replace(removal, "")
    assert "DATA_SUBDIR}" not in rest.replace('!define DATA_SUBDIR "bngsync\\bngsync"', "")
    # install and uninstall replace program files only, never the whole install folder
    assert 'RMDir /r "$INSTDIR\\_internal"' in script and 'RMDir /r "$INSTDIR"' not in script


# -- slow: the real bundle, the installer under Wine ------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_linux_bundle_builds_and_passes_the_smoke_test(tmp_path, slow_opt_in):
    pytest.importorskip("PyInstaller")
    env = dict(os.environ, DIST=str(tmp_path / "dist"), WORK=str(tmp_path / "work"), PYTHON=sys.executable)
    for name in ("BNGSYNC_DATA_DIR", "BNGSYNC_CONFIG"):
        env.pop(name, None)
    result = subprocess.run(["bash", str(PACKAGING / "build_linux.sh")], env=env, capture_output=True, text=True,
                            timeout=880)
    summary = tmp_path / "dist" / "bngsync-smoke.txt"
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "FAIL" not in summary.read_text()


WINE = shutil.which("wine64") or next((p for p in ("/usr/lib/wine/wine64",) if Path(p).exists()), None) \
    or shutil.which("wine")


@pytest.mark.slow
@pytest.mark.timeout(600)
@needs_makensis
@pytest.mark.skipif(WINE is None, reason="wine64 not installed (Debian: apt-get install wine64)")
def test_installer_under_wine_installs_upgrades_and_uninstalls(tmp_path, slow_opt_in):
    env = dict(os.environ, WINEPREFIX=str(tmp_path / "wine"), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")

    def wine(*args: str, check: bool = True) -> int:
        code = subprocess.run([WINE, *args], env=env, capture_output=True, timeout=180).returncode
        assert not check or code == 0, f"{args} exited {code}"
        return code

    def reg(key: str) -> str:
        return subprocess.run([WINE, "reg", "query", key], env=env, capture_output=True, text=True,
                              timeout=60).stdout

    def uninstall(*args: str) -> None:
        # the uninstaller copies itself away and returns at once: wait until it removed itself
        wine(str(program / "uninstall.exe"), "/S", *args)
        deadline = time.monotonic() + 60
        while (program / "uninstall.exe").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)

    wine("wineboot", "-i")
    v1, v2 = tmp_path / "v1.exe", tmp_path / "v2.exe"
    assert makensis(fake_bundle(tmp_path / "b1", marker="1"), v1, "0.1.0").returncode == 0
    assert makensis(fake_bundle(tmp_path / "b2", marker="2"), v2, "0.2.0").returncode == 0
    user = next((tmp_path / "wine" / "drive_c" / "users").glob("[!P]*"))  # not "Public"
    local = user / "AppData" / "Local"
    program = local / "Programs" / "bngsync"
    data = local / "bngsync" / "bngsync"

    # a fresh per-user install: program files, Start menu, Apps entry, start at sign-in
    wine(str(v1), "/S", "/CurrentUser")
    assert (program / "bngsync.exe").read_bytes().endswith(b"1") and (program / "_internal/agent/v1.txt").exists()
    menu = user / "AppData" / "Roaming" / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "bngsync"
    assert {p.name for p in menu.iterdir()} == {"bngsync.lnk", "bngsync command prompt.lnk", "Uninstall bngsync.lnk"}
    apps_entry = reg(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\bngsync")
    assert "DisplayVersion    REG_SZ    0.1.0" in apps_entry
    assert "bngsync-tray.exe\" --background" in reg(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run")

    # the app's data, config and logs appear; the person turns start at sign-in off
    (data / "Logs").mkdir(parents=True)
    (data / "bngsync.sqlite3").write_text("db")
    (data / "config.toml").write_text("cfg")
    wine("reg", "delete", r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run", "/v", "bngsync", "/f")

    # upgrade in place: new program files only, old ones gone, data and the choice kept
    wine(str(v2), "/S")
    assert (program / "bngsync.exe").read_bytes().endswith(b"2")
    assert not (program / "_internal/agent/v1.txt").exists() and (program / "_internal/agent/v2.txt").exists()
    assert (data / "bngsync.sqlite3").read_text() == "db" and (data / "config.toml").exists()
    assert "bngsync" not in reg(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run")

    # an older installer does not overwrite a newer install (silently: it declines)
    assert wine(str(v1), "/S", check=False) != 0
    assert (program / "bngsync.exe").read_bytes().endswith(b"2")

    # uninstall keeps the data by default ...
    uninstall()
    assert not program.exists() and not menu.exists()
    assert (data / "bngsync.sqlite3").exists() and (data / "Logs").is_dir()
    assert "bngsync" not in reg(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall")

    # ... and removes it when asked (here per machine, where $LOCALAPPDATA would mean ProgramData)
    wine(str(v2), "/S", "/AllUsers")
    program = tmp_path / "wine" / "drive_c" / "Program Files" / "bngsync"
    assert (program / "bngsync.exe").exists()
    assert "AllUsers" in reg(r"HKLM\Software\bngsync\Installer")
    uninstall("/AllUsers", "/REMOVEDATA")
    assert not program.exists() and not data.exists() and not (local / "bngsync").exists()
