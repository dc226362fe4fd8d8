@echo off
rem The tutorial's driver on Windows: tutorial.cmd COMMAND [ARGS] (tutorial.cmd help).
rem It needs Python 3.9 or newer (Visual Studio's Python workload, or python.org).
where py >nul 2>nul
if %errorlevel% equ 0 (py -3 "%~dp0driver" %*) else (python "%~dp0driver" %*)
exit /b %errorlevel%
