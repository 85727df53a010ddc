using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptGen.Distributed;

namespace OptGen.Distributed.Tests;

/// <summary>
/// The MPI worker: <c>mpirun -np R dotnet OptGen.Distributed.Tests.dll &lt;scenario&gt;</c> runs a <see cref="Scenario"/>
/// on every rank and writes its facts to a file per rank; <see cref="MpiTests"/> reads them.
/// </summary>
public static class Program
{
    /// <summary>Runs scenario <c>args[0]</c> ("train", "mismatch-layout", "mismatch-rule", "die", "mlp", "half", "ckpt-save DIR PRECISION", "ckpt-load FROM TO PRECISION", or "bench [ELEMENTS [STEPS]]": not a test, 64M elements and 10 steps by default) on this rank and writes its facts, "key=value" lines, to <c>args[1]</c>/rank&lt;r&gt;.txt.</summary>
    public static int Main(string[] args)
    {
        string scenario = args[0];
        using MpiCommunicator communicator = MpiCommunicator.Initialize();
        Dictionary<string, string> facts = scenario switch
        {
            "train" => Scenario.Run(communicator),
            "mismatch-layout" => Scenario.RunMismatch(communicator, "layout"),
            "mismatch-rule" => Scenario.RunMismatch(communicator, "rule"),
            "bench" => Scenario.Bench(communicator, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 64 << 20, args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 10),
            "die" => Scenario.Die(communicator),
            "mlp" => Scenario.Mlp(communicator),
            "half" => Scenario.HalfSteps(communicator),
            "ckpt-save" => Scenario.SaveCheckpoint(communicator, args[2], Enum.Parse<StatePrecision>(args[3])),
            "ckpt-load" => Scenario.LoadCheckpoint(communicator, args[2], args[3], Enum.Parse<StatePrecision>(args[4])),
            _ => throw new ArgumentException($"Unknown scenario '{scenario}'.", nameof(args)),
        };

        // One file per rank (mpirun interleaves the ranks' standard output).
        string text = string.Concat(facts.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}\n"));
        File.WriteAllText(Path.Combine(args[1], $"rank{communicator.Rank}.txt"), text);
        return 0;
    }
}
