<#
.SYNOPSIS
  Build the bngsync Windows bundle and its installer, on Windows.

.DESCRIPTION
  PyInstaller does not cross-compile, so the Windows bundle is built on a Windows machine
  (Windows 10/11 or Server 2016+, x64). Run from anywhere; paths are relative to the checkout.

    1. A clean build venv (build\venv) with the app and PyInstaller only: no test tools, so
       nothing optional drifts into the bundle.
    2. PyInstaller with packaging\bngsync.spec  -> dist\bngsync\ (bngsync.exe, bngsync-tray.exe)
    3. A smoke test of the bundle in a throw-away data folder: --version, --help,
       config init / check, the demo (warns only), the tray app stays up for 5 s;
       prints the bundle size and the cold start of `bngsync --version`.
    4. makensis packaging\installer.nsi      -> dist\bngsync-<version>-setup.exe

  Needs: Python 3.11 x64 from python.org (with the py launcher) and NSIS 3
  (winget install NSIS.NSIS   or   choco install nsis).

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1
.EXAMPLE
  .\packaging\build_windows.ps1 -Headless -Fast     # CI: tray offscreen, quick zlib installer
#>
param(
  [string]$Python = "",          # a python.exe to build the venv with (default: py -3.11)
  [switch]$SkipInstaller,        # stop after the bundle and its smoke test
  [switch]$Headless,             # run the tray app offscreen (no desktop, e.g. CI)
  [switch]$Fast,                 # zlib instead of solid LZMA for the installer (bigger, quicker)
  [switch]$Reuse                 # keep an existing build\venv instead of recreating it
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path (Join-Path $PSScriptRoot "..")).Path
Set-Location $Root

function Invoke-Native {
  # Run a program and stop on a non-zero exit code (PowerShell does not, for native programs).
  # A plain function on purpose: $args passes "-m", "--clean" ... through as they are.
  $Program, $Arguments = $args
  & $Program @Arguments
  if ($LASTEXITCODE -ne 0) { throw "$Program $($Arguments -join ' ') failed (exit $LASTEXITCODE)" }
}

# -- 1. build venv -------------------------------------------------------------------------------
$Venv = Join-Path $Root "build\venv"   # under build\, which git ignores
$Py = Join-Path $Venv "Scripts\python.exe"
if (-not $Reuse -and (Test-Path $Venv)) { Remove-Item -Recurse -Force $Venv }
if (-not (Test-Path $Py)) {
  Write-Host "== creating $Venv"
  if ($Python) { Invoke-Native $Python -m venv $Venv }
  else { Invoke-Native py -3.11 -m venv $Venv }
}
Invoke-Native $Py -m pip install --quiet --upgrade pip
# Not editable: the bundle must come from the installed package, exactly as shipped.
Invoke-Native $Py -m pip install --quiet "$($Root)[packaging]"
$Version = (& $Py packaging\version_info.py).Trim()
$Version4 = (& $Py packaging\version_info.py --numeric).Trim()
Write-Host "== bngsync $Version"

# -- 2. bundle -------------------------------------------------------------------------------------
$Dist = Join-Path $Root "dist"
$Bundle = Join-Path $Dist "bngsync"
$Work = Join-Path $Root "build\pyinstaller"
$Started = Get-Date
Invoke-Native $Py -m PyInstaller --noconfirm --clean --log-level WARN --distpath $Dist --workpath $Work packaging\bngsync.spec
$BuildSeconds = [math]::Round(((Get-Date) - $Started).TotalSeconds, 1)
$Cli = Join-Path $Bundle "bngsync.exe"
$Tray = Join-Path $Bundle "bngsync-tray.exe"
Write-Host "== built $Bundle in $BuildSeconds s"

# -- 3. smoke test, in a throw-away data folder ------------------------------------------------------
$Scratch = Join-Path $env:TEMP ("bngsync-smoke-" + [guid]::NewGuid().ToString("N"))
New-Item -ItemType Directory -Path $Scratch | Out-Null
$env:BNGSYNC_DATA_DIR = Join-Path $Scratch "data"
$env:BNGSYNC_CONFIG = Join-Path $Scratch "config.toml"
Push-Location $Scratch   # another folder: no source tree next to the bundle
try {
  $Out = (& $Cli --version | Out-String).Trim()
  if ($Out -ne "bngsync $Version") { throw "bngsync --version printed '$Out', expected 'bngsync $Version'" }
  Invoke-Native $Cli --help | Out-Null
  Invoke-Native $Cli config init | Out-Null
  Invoke-Native $Cli config check
  Write-Host "== command line ok"

  & $Cli demo --orders 5 --timeout 120
  if ($LASTEXITCODE -eq 0) { Write-Host "== demo ok" }
  else { Write-Warning "the demo failed (exit $LASTEXITCODE); check it from the source checkout: python dev.py demo --orders 5" }

  if (Test-Path $Tray) {
    if ($Headless) { $env:QT_QPA_PLATFORM = "offscreen" }
    $Proc = Start-Process -FilePath $Tray -PassThru
    Start-Sleep -Seconds 5
    if ($Proc.HasExited) { throw "bngsync-tray.exe exited within 5 s (exit $($Proc.ExitCode))" }
    Stop-Process -Id $Proc.Id -Force
    Remove-Item Env:QT_QPA_PLATFORM -ErrorAction SilentlyContinue
    Write-Host "== tray app started and stayed up for 5 s"
  } else {
    Write-Warning "no bngsync-tray.exe in the bundle (ui\app.py missing?)"
  }

  # Measurements for the README: size, and the cold start (first run, then best of 3).
  $SizeMB = [math]::Round((Get-ChildItem $Bundle -Recurse -File | Measure-Object Length -Sum).Sum / 1MB, 1)
  $First = (Measure-Command { & $Cli --version | Out-Null }).TotalSeconds
  $Best = (1..3 | ForEach-Object { (Measure-Command { & $Cli --version | Out-Null }).TotalSeconds } | Measure-Object -Minimum).Minimum
  Write-Host ("== bundle {0} MB; bngsync --version: first {1:N2} s, best of 3 {2:N2} s" -f $SizeMB, $First, $Best)
} finally {
  Pop-Location
  Remove-Item Env:BNGSYNC_DATA_DIR, Env:BNGSYNC_CONFIG -ErrorAction SilentlyContinue
  Remove-Item -Recurse -Force $Scratch -ErrorAction SilentlyContinue
}
if ($SkipInstaller) { exit 0 }

# -- 4. installer ------------------------------------------------------------------------------------
$MakeNsis = (Get-Command makensis.exe -ErrorAction SilentlyContinue).Source
foreach ($Candidate in @("${env:ProgramFiles(x86)}\NSIS\makensis.exe", "$env:ProgramFiles\NSIS\makensis.exe")) {
  if (-not $MakeNsis -and (Test-Path $Candidate)) { $MakeNsis = $Candidate }
}
if (-not $MakeNsis) { throw "makensis.exe not found: install NSIS 3 (winget install NSIS.NSIS)" }
$Icon = Join-Path $Work "bngsync.ico"
Invoke-Native $Py packaging\app_icon.py $Icon | Out-Null
$Setup = Join-Path $Dist "bngsync-$Version-setup.exe"
$NsisArgs = @("/V2", "/WX", "/DVERSION=$Version", "/DVERSION4=$Version4", "/DBUNDLE=$Bundle", "/DOUTFILE=$Setup", "/DICON=$Icon")
if ($Fast) { $NsisArgs += "/DFAST" }
Invoke-Native $MakeNsis @NsisArgs packaging\installer.nsi
Write-Host ("== {0} ({1:N1} MB)" -f $Setup, ((Get-Item $Setup).Length / 1MB))
