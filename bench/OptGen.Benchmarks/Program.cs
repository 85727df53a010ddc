// The benchmark entry point: `--quick` for the interleaved ratio table, anything else goes to BenchmarkDotNet.

using System;
using System.Linq;
using BenchmarkDotNet.Running;

namespace OptGen.Benchmarks;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Contains("--blockwise-probe"))
        {
            return BlockwiseProbe.Run(args);
        }

        if (args.Contains("--reductions"))
        {
            return ReductionBench.Run(args);
        }

        if (args.Contains("--quick") || args.Contains("--full"))
        {
            return QuickRunner.Run(QuickOptions.Parse(args));
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
