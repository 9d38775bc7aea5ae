; bngsync Windows installer (NSIS 3, Unicode), built from a PyInstaller one-folder bundle.
;
;   makensis /DVERSION=0.1.0 /DBUNDLE=dist\bngsync packaging\installer.nsi
;
; Optional defines:
;   /DVERSION4=0.1.0.0   the four-number form for the version resource (default: VERSION + ".0",
;                        right for a plain X.Y.Z only; version_info.py --numeric prints it)
;   /DOUTFILE=path.exe   where to write the installer (default: bngsync-<VERSION>-setup.exe here)
;   /DICON=app.ico       icon of the installer and uninstaller
;   /DFAST               zlib instead of solid LZMA: a quick build for tests, a bigger file
;
; Command line of the installer:   /S silent, /AllUsers or /CurrentUser, /D=C:\path (last)
; Command line of the uninstaller: /S silent, /REMOVEDATA also deletes data, settings, passwords
;
; Where things live (the installer replaces only the first):
;   program files  per machine: %ProgramFiles%\bngsync; per user: %LOCALAPPDATA%\Programs\bngsync
;   data, config   %LOCALAPPDATA%\bngsync\bngsync (database, config.toml, Logs\) — per Windows user,
;                  where the app puts them (platformdirs user_data_dir("bngsync", "bngsync"))
;   passwords      Windows Credential Manager, service "bngsync"

; The app is 64-bit only, so is Setup: it sees the 64-bit Program Files and registry like the app.
Target amd64-unicode
ManifestDPIAware true

!ifndef VERSION
  !error "Pass the version: makensis /DVERSION=x.y.z (python packaging/version_info.py prints it)"
!endif
!ifndef BUNDLE
  !error "Pass the bundle folder: makensis /DBUNDLE=dist\bngsync"
!endif
!if ! /FileExists "${BUNDLE}\bngsync.exe"
  !error "${BUNDLE}\bngsync.exe not found: build the bundle first (packaging\build_windows.ps1)"
!endif
; A bundle built without the tray app still installs: the command line and the uninstaller.
!if /FileExists "${BUNDLE}\bngsync-tray.exe"
  !define HAS_TRAY
!endif
!ifndef VERSION4
  ; "1.2.3" → "1.2.3.0"; anything fancier should come in as /DVERSION4 from version_info.py
  !searchparse /noerrors "${VERSION}" "" V_MAJOR "." V_MINOR "." V_PATCH
  !define /ifndef V_MAJOR 0
  !define /ifndef V_MINOR 0
  !define /ifndef V_PATCH 0
  !define VERSION4 "${V_MAJOR}.${V_MINOR}.${V_PATCH}.0"
!endif
!define /ifndef OUTFILE "bngsync-${VERSION}-setup.exe"

!define APP "bngsync"
!define PUBLISHER "bngsync"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\bngsync"
; The installer's own notes (install dir and mode) in a subkey, apart from anything the app keeps.
!define INSTALLER_KEY "Software\bngsync\Installer"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
; The app's data and config folder, relative to %LOCALAPPDATA% (platformdirs: author\app).
!define DATA_SUBDIR "bngsync\bngsync"

!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif

Name "${APP}"
OutFile "${OUTFILE}"
BrandingText "${APP} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION4}"
VIFileVersion "${VERSION4}"
VIAddVersionKey /LANG=1033 "ProductName" "${APP}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APP} ${VERSION} setup"
VIAddVersionKey /LANG=1033 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PUBLISHER}"

; -- per machine or per user ------------------------------------------------------------------------
; "Highest": administrators are asked to elevate and may choose either; everyone else installs
; for themselves without a prompt. The mode and folder of an earlier install are read back from
; INSTALLER_KEY, so an upgrade lands on top of it.
!define MULTIUSER_EXECUTIONLEVEL Highest
!define MULTIUSER_MUI
!define MULTIUSER_INSTALLMODE_COMMANDLINE
!define MULTIUSER_USE_PROGRAMFILES64
!define MULTIUSER_INSTALLMODE_INSTDIR "${APP}"
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_KEY "${INSTALLER_KEY}"
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_VALUENAME "InstallMode"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_KEY "${INSTALLER_KEY}"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_VALUENAME "InstallDir"

!include FileFunc.nsh
!include LogicLib.nsh
!include Sections.nsh
!include StrFunc.nsh
!include WordFunc.nsh
${StrStr}
${UnStrStr}
!include MultiUser.nsh
!include MUI2.nsh

; -- pages ------------------------------------------------------------------------------------------
!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

!define MUI_WELCOMEPAGE_TEXT "Setup will install ${APP} ${VERSION}, the sync agent between nopCommerce and BNG.$\r$\n$\r$\nIf ${APP} is installed already, Setup replaces its program files and keeps your settings, data and saved passwords. A newer version may update the database when it first starts.$\r$\n$\r$\nClick Next to continue."
!insertmacro MUI_PAGE_WELCOME
!insertmacro MULTIUSER_PAGE_INSTALLMODE
!insertmacro MUI_PAGE_COMPONENTS
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipFolderOnUpgrade
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!ifdef HAS_TRAY
  !define MUI_FINISHPAGE_RUN
  !define MUI_FINISHPAGE_RUN_TEXT "Start ${APP} now"
  !define MUI_FINISHPAGE_RUN_FUNCTION StartTrayApp
!endif
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!define MUI_COMPONENTSPAGE_TEXT_TOP "The ${APP} program files will be removed. Your data, settings and saved passwords stay, ready for a later install, unless you tick the box below."
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; -- helpers shared by the installer and the uninstaller -------------------------------------------
!macro APP_HELPERS UN
  ; The tray app keeps its files open. Its queue survives being ended (every step is one SQLite
  ; transaction), so ask it to close, then end it. Only bngsync-tray is ended here.
  Function ${UN}CloseTrayApp
    nsExec::Exec 'taskkill /IM bngsync-tray.exe'
    Pop $0
    ${If} $0 == 0
      Sleep 2000
    ${EndIf}
    nsExec::Exec 'taskkill /F /IM bngsync-tray.exe'
    Pop $0
    Sleep 500
  FunctionEnd

  ; A running bngsync.exe (`bngsync run` as a service or task, an open command) also holds the
  ; files; that one belongs to whoever started it, so ask them to stop it rather than end it.
  Function ${UN}WaitForCommandLine
    check:
      ; find exits 0 when tasklist listed a bngsync.exe
      nsExec::Exec '"$SYSDIR\cmd.exe" /c tasklist /NH /FI "IMAGENAME eq bngsync.exe" | "$SYSDIR\find.exe" /I "bngsync.exe"'
      Pop $0
      ${If} $0 == 0
        MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "${APP} is running (bngsync.exe, for example as $\"bngsync run$\"). Stop it, then click Retry." /SD IDCANCEL IDRETRY check
        Abort
      ${EndIf}
  FunctionEnd
!macroend
!insertmacro APP_HELPERS ""
!insertmacro APP_HELPERS "un."

Function SkipFolderOnUpgrade
  ; Upgrading: the folder is the existing install's, not a choice
  ${If} ${FileExists} "$INSTDIR\bngsync.exe"
    Abort
  ${EndIf}
FunctionEnd

!ifdef HAS_TRAY
Function StartTrayApp
  ; Through Explorer, so the tray app runs as the signed-in user, not elevated like Setup.
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\bngsync-tray.exe"'
FunctionEnd
!endif

; -- install ---------------------------------------------------------------------------------------
Section "${APP} (required)" SecProgram
  SectionIn RO
  ${If} ${FileExists} "$INSTDIR\bngsync.exe"
    DetailPrint "Upgrading ${APP} in $INSTDIR; settings, data and passwords are kept"
  ${EndIf}
  Call CloseTrayApp
  Call WaitForCommandLine

  ; Replace the program files only. The old libraries go first, so nothing from an earlier
  ; version lingers; data and config never live here (see the top of this file).
  RMDir /r "$INSTDIR\_internal"
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Start menu: the tray app, a command prompt that finds `bngsync`, the uninstaller.
  ; (SetShellVarContext from the install mode: all users' Start menu, or this user's.)
  CreateDirectory "$SMPROGRAMS\${APP}"
  !ifdef HAS_TRAY
    CreateShortCut "$SMPROGRAMS\${APP}\${APP}.lnk" "$INSTDIR\bngsync-tray.exe" "" "$INSTDIR\bngsync-tray.exe" 0
  !endif
  CreateShortCut "$SMPROGRAMS\${APP}\${APP} command prompt.lnk" "$SYSDIR\cmd.exe" \
    '/k cd /d "%USERPROFILE%" && set "PATH=$INSTDIR;%PATH%" && bngsync --help' "$INSTDIR\bngsync.exe" 0
  CreateShortCut "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk" "$INSTDIR\uninstall.exe"

  ; Remember the mode and folder (the next installer upgrades in place), and appear in
  ; Settings → Apps with an uninstaller that knows the mode.
  WriteRegStr SHCTX "${INSTALLER_KEY}" "InstallMode" "$MultiUser.InstallMode"
  WriteRegStr SHCTX "${INSTALLER_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr SHCTX "${INSTALLER_KEY}" "Version" "${VERSION}"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  !ifdef HAS_TRAY
    WriteRegStr SHCTX "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\bngsync-tray.exe"
  !else
    WriteRegStr SHCTX "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\bngsync.exe"
  !endif
  WriteRegStr SHCTX "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe" /$MultiUser.InstallMode'
  WriteRegStr SHCTX "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /$MultiUser.InstallMode /S'
  WriteRegDWORD SHCTX "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD SHCTX "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

!ifdef HAS_TRAY
Section "Start ${APP} when I sign in" SecAutostart
  ; Per Windows user (HKCU), like the data: each person who wants the tray app ticks this.
  ; The same value the app's own "start at login" setting writes (ui/autostart.py): --background
  ; brings it up quietly in the tray instead of opening its window at every sign-in.
  WriteRegStr HKCU "${RUN_KEY}" "${APP}" '"$INSTDIR\bngsync-tray.exe" --background'
SectionEnd

Section "-autostart off"
  ; Unticked on an upgrade: stop starting at sign-in.
  ${IfNot} ${SectionIsSelected} ${SecAutostart}
    DeleteRegValue HKCU "${RUN_KEY}" "${APP}"
  ${EndIf}
SectionEnd
!endif

; Functions that name a section come after it.
Function .onInit
  !insertmacro MULTIUSER_INIT
  ; An older installer must not overwrite a newer version: its database may be ahead.
  ReadRegStr $0 SHCTX "${UNINST_KEY}" "DisplayVersion"
  ${If} $0 != ""
    ${VersionCompare} "$0" "${VERSION}" $1
    ${If} $1 == 1
      MessageBox MB_YESNO|MB_ICONEXCLAMATION "${APP} $0 is installed, which is newer than ${VERSION}. Its database may not open with an older version.$\r$\n$\r$\nInstall ${VERSION} anyway?" /SD IDNO IDYES +2
      Abort
    ${EndIf}
  ${EndIf}
  !ifdef HAS_TRAY
    ; Upgrades keep the person's choice about starting at sign-in.
    ${If} $0 != ""
      ReadRegStr $1 HKCU "${RUN_KEY}" "${APP}"
      ${If} $1 == ""
        !insertmacro UnselectSection ${SecAutostart}
      ${EndIf}
    ${EndIf}
  !endif
FunctionEnd

; -- uninstall -------------------------------------------------------------------------------------
; First, while bngsync.exe is still there to clear the passwords it stored.
Section /o "un.Remove my data, settings and saved passwords" UnSecData
  Call un.CloseTrayApp
  Call un.WaitForCommandLine
  ; Saved passwords: the app's own command knows its Credential Manager entries.
  ${If} ${FileExists} "$INSTDIR\bngsync.exe"
    DetailPrint "Removing saved passwords from Windows Credential Manager"
    nsExec::ExecToLog '"$INSTDIR\bngsync.exe" secrets clear nopcommerce'
    Pop $0
    nsExec::ExecToLog '"$INSTDIR\bngsync.exe" secrets clear bng'
    Pop $0
    nsExec::ExecToLog '"$INSTDIR\bngsync.exe" secrets clear webhook'
    Pop $0
    nsExec::ExecToLog '"$INSTDIR\bngsync.exe" secrets clear smtp'
    Pop $0
  ${EndIf}
  ; The access token the app caches has no `secrets` command; remove its entry directly
  ; (keyring names entries "<name>@bngsync", and the last one stored also as "bngsync").
  nsExec::Exec 'cmdkey /delete:nopcommerce.token@bngsync'
  Pop $0
  nsExec::Exec 'cmdkey /delete:bngsync'
  Pop $0

  ; The data folder is per Windows user: this removes the one of the user running the uninstaller.
  ; $LOCALAPPDATA means ProgramData in the all-users context, so switch to this user for the path.
  SetShellVarContext current
  DetailPrint "Removing $LOCALAPPDATA\${DATA_SUBDIR}"
  RMDir /r "$LOCALAPPDATA\${DATA_SUBDIR}"
  RMDir "$LOCALAPPDATA\bngsync"  ; the author folder, only if nothing else is in it
  DeleteRegKey HKCU "Software\bngsync\bngsync"  ; settings the app may keep in the registry
  ${If} $MultiUser.InstallMode == "AllUsers"
    SetShellVarContext all
  ${EndIf}
SectionEnd

Section "-un.Program files"
  Call un.CloseTrayApp
  Call un.WaitForCommandLine
  DeleteRegValue HKCU "${RUN_KEY}" "${APP}"

  Delete "$SMPROGRAMS\${APP}\${APP}.lnk"
  Delete "$SMPROGRAMS\${APP}\${APP} command prompt.lnk"
  Delete "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk"
  RMDir "$SMPROGRAMS\${APP}"

  ; Only what Setup put here: anything else a person saved in the folder stays.
  Delete "$INSTDIR\bngsync.exe"
  Delete "$INSTDIR\bngsync-tray.exe"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey SHCTX "${UNINST_KEY}"
  DeleteRegKey SHCTX "${INSTALLER_KEY}"
  DeleteRegKey /ifempty SHCTX "Software\bngsync"
SectionEnd

Function un.onInit
  !insertmacro MULTIUSER_UNINIT
  ; /REMOVEDATA on the command line ticks "remove my data" (for silent uninstalls)
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/REMOVEDATA" $1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${UnSecData}
  ${EndIf}
FunctionEnd
