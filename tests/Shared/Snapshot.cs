using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;
using Xunit.Sdk;

namespace OptGen.Testing;

/// <summary>
/// Golden-file snapshots, shared by the generator and GPU test projects (a file extension and scrubber per snapshot,
/// for PTX). Each snapshot has a checked-in <c>*.verified.*</c> file under
/// Snapshots/; a mismatch writes <c>*.received.cs</c> beside it and fails with a unified diff. Set
/// <c>OPTGEN_ACCEPT_SNAPSHOTS=1</c> to accept the received output as the new golden file: that run writes it and
/// still fails (so accepting is a deliberate second run without the variable, after reviewing the diff).
/// </summary>
internal static partial class Snapshot
{
    public const string AcceptVariable = "OPTGEN_ACCEPT_SNAPSHOTS";

    public static void Verify(string name, string actual, string extension = ".cs", Func<string, string>? scrub = null, [CallerFilePath] string caller = "") =>
        VerifyAll(new[] { (name, actual) }, extension, scrub, caller);

    /// <summary>
    /// Checks (or, with <see cref="AcceptVariable"/> set, writes) every snapshot of one test before it fails, so one
    /// accepting run updates all of a test's golden files and reports each one.
    /// </summary>
    public static void VerifyAll(IEnumerable<(string Name, string Actual)> snapshots, string extension = ".cs", Func<string, string>? scrub = null, [CallerFilePath] string caller = "")
    {
        var failures = new List<string>();
        foreach ((string name, string actual) in snapshots)
        {
            if (Check(name, actual, extension, scrub, caller) is { } failure)
            {
                failures.Add(failure);
            }
        }

        if (failures.Count > 0)
        {
            throw new XunitException(string.Join("\n\n", failures));
        }
    }

    private static string? Check(string name, string actual, string extension, Func<string, string>? scrub, string caller)
    {
        string directory = Path.Combine(Path.GetDirectoryName(caller)!, "Snapshots");
        string verified = Path.Combine(directory, name + ".verified" + extension);
        string received = Path.Combine(directory, name + ".received" + extension);
        string text = (scrub ?? Scrub)(actual);

        string expected = File.Exists(verified) ? File.ReadAllText(verified) : string.Empty;
        if (Normalize(expected) == Normalize(text))
        {
            File.Delete(received);
            return null;
        }

        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            // Accepting is deliberate: the run that writes a new golden file still fails, so a test run with the
            // variable left set can never pass over a change; review the diff and run again without it.
            Directory.CreateDirectory(directory);
            File.WriteAllText(verified, text);
            File.Delete(received);
            return $"Snapshot '{name}' was {(expected.Length == 0 ? "created" : "updated")} at {verified} because {AcceptVariable}=1. " +
                $"Review the diff (git diff) and run the tests again without {AcceptVariable}.\n{UnifiedDiff(expected, text)}";
        }

        File.WriteAllText(received, text);
        return $"Snapshot '{name}' differs from {verified}{(expected.Length == 0 ? " (missing)" : string.Empty)}.\n" +
            $"Review {received}; accept with {AcceptVariable}=1.\n{UnifiedDiff(expected, text)}";
    }

    /// <summary>Removes what changes between builds but not between generators: the generator version.</summary>
    public static string Scrub(string text) => VersionPattern().Replace(text, "GeneratedCode(\"OptGen.Generator\", \"VERSION\")");

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd();

    private static string UnifiedDiff(string expected, string actual)
    {
        DiffPaneModel diff = InlineDiffBuilder.Diff(Normalize(expected), Normalize(actual));
        var text = new StringBuilder();
        int shown = 0;
        for (int i = 0; i < diff.Lines.Count && shown < 80; i++)
        {
            DiffPiece line = diff.Lines[i];
            if (line.Type is ChangeType.Inserted or ChangeType.Deleted)
            {
                text.Append(line.Type == ChangeType.Inserted ? "+ " : "- ").Append(line.Position?.ToString() ?? "   ").Append(": ").AppendLine(line.Text);
                shown++;
            }
        }

        return text.ToString();
    }

    [GeneratedRegex("GeneratedCode\\(\"OptGen.Generator\", \"[^\"]*\"\\)")]
    private static partial Regex VersionPattern();
}
