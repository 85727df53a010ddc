using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;

namespace OptGen.Package.Tests;

/// <summary>The result of one <c>dotnet</c> command: its command line, exit code and interleaved output.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string Output, bool TimedOut)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Everything a failure message needs: the command, how it ended, and its whole output.</summary>
    public override string ToString() =>
        $"> {CommandLine}\n(exit code {ExitCode}{(TimedOut ? ", timed out" : string.Empty)})\n{Output}";
}

/// <summary>
/// Runs the .NET CLI as a child process, isolated from the test host: no MSBuild node reuse and no compiler server
/// (either would outlive the command and hold its output pipes open), and none of the MSBuild variables that
/// <c>dotnet test</c> sets for its own build.
/// </summary>
internal static class DotNetCli
{
    public static string Executable
    {
        get
        {
            string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (!string.IsNullOrEmpty(host) && File.Exists(host))
            {
                return host;
            }

            string? process = Environment.ProcessPath;
            if (process is not null && Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            {
                return process;
            }

            return "dotnet";
        }
    }

    public static CommandResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments) =>
        RunProgram(Executable, "dotnet", workingDirectory, environment, timeout, arguments);

    /// <summary>Runs another program (e.g. <c>python3</c>) the same way, with the same isolated environment.</summary>
    public static CommandResult RunProgram(string program, string workingDirectory, TimeSpan timeout, params string[] arguments) =>
        RunProgram(program, displayName: program, workingDirectory, new Dictionary<string, string>(), timeout, arguments);

    private static CommandResult RunProgram(string executable, string displayName, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, string[] arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (string name in new List<string>(start.Environment.Keys))
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
            {
                start.Environment.Remove(name);
            }
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["UseSharedCompilation"] = "false";
        foreach (KeyValuePair<string, string> variable in environment)
        {
            start.Environment[variable.Key] = variable.Value;
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // Waits for the exit and for the end of both output streams, at most `timeout` in all.
        bool timedOut = false;
        using (var cancellation = new CancellationTokenSource(timeout))
        {
            try
            {
                process.WaitForExitAsync(cancellation.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
        }

        string commandLine = displayName + " " + string.Join(' ', arguments);
        lock (output)
        {
            return new CommandResult(commandLine, process.HasExited ? process.ExitCode : -1, output.ToString(), timedOut);
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}
