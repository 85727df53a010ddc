using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using OptGen.Distributed;

namespace OptGen.Distributed.Tests;

/// <summary>
/// What the tests run on every rank, under the in-process group or under mpirun: a sharded Adam over a model of
/// several tensors in two groups (one with a schedule) for 50 steps, and a single-process Adam on the average of
/// the same per-rank gradients as the reference; then clipping and a non-finite gradient that only one rank sees.
/// Each rank reports key=value facts; the tests compare them across ranks and runs.
/// </summary>
internal static class Scenario
{
    /// <summary>Two groups, tensor lengths that are not multiples of 16 (so cuts and tails are exercised).</summary>
    internal static ParameterLayout Model() => new(new[] { 1000, 37, 3 }, new[] { 515, 2048, 1 });

    /// <summary>
    /// A model for 8-bit and 4-bit state: tensors above the 4096-element threshold (partial last blocks: 9000, 5000,
    /// 8000, 4097, 12 003) and below it; with 2 and 3 ranks some cuts leave a shard less than 4096 elements of a
    /// tensor that one process quantizes.
    /// </summary>
    internal static ParameterLayout BlockwiseModel() => new(new[] { 9000, 37, 5000 }, new[] { 8000, 4097, 12_003 });

    internal const int Steps = 50;

    internal static Adam Create(ParameterLayout layout)
    {
        var adam = new Adam(layout) { LearningRate = 0.01, WeightDecay = 0.01 };
        adam.Groups[1]["LearningRate"] = 0.003;
        adam.Groups[1].SetSchedule("LearningRate", Schedule.Cosine(0.003, Steps));
        return adam;
    }

    /// <summary>Rank <paramref name="rank"/>'s gradient at step <paramref name="step"/>: a fixed pseudo-random function.</summary>
    internal static void Gradient(int rank, int step, Span<float> g)
    {
        ulong state = ((ulong)rank * 0x9E3779B97F4A7C15UL) ^ ((ulong)step * 0xBF58476D1CE4E5B9UL);
        for (int i = 0; i < g.Length; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            g[i] = (float)(((z >> 40) / (double)(1UL << 24)) - 0.5) * (1 + rank);
        }
    }

    /// <summary>The reference's gradient: every rank's <see cref="Gradient"/> at <paramref name="step"/> summed in rank order in float32 into <paramref name="sum"/> (<paramref name="scratch"/>: any buffer of the same length).</summary>
    internal static void SumOfRanks(int ranks, int step, Span<float> sum, Span<float> scratch)
    {
        sum.Clear();
        for (int r = 0; r < ranks; r++)
        {
            Gradient(r, step, scratch);
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += scratch[i];
            }
        }
    }

    internal static void InitialParameters(Span<float> p)
    {
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = (float)Math.Sin(i * 0.01);
        }
    }

    /// <summary>Runs the scenario on this rank and returns its facts.</summary>
    internal static Dictionary<string, string> Run(ICommunicator communicator)
    {
        var facts = new Dictionary<string, string>();
        int ranks = communicator.Size;
        ParameterLayout layout = Model();
        int n = layout.TotalLength;
        var sharded = new ShardedOptimizer<Adam>(communicator, layout, Create);
        Adam single = Create(layout);

        var parameters = new float[n];
        var reference = new float[n];
        InitialParameters(parameters);
        InitialParameters(reference);
        var mine = new float[n];
        var sum = new float[n];
        var other = new float[n];
        var averaged = new StepOptions { GradientScale = 1.0 / ranks };
        long allocated = 0;
        for (int step = 1; step <= Steps; step++)
        {
            Gradient(communicator.Rank, step, mine);
            long heap = GC.GetAllocatedBytesForCurrentThread();
            sharded.Step(parameters, mine, null);
            if (step > 1)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - heap;
            }

            // The reference: every rank's gradient summed in rank order in float32, the 1/R in the kernel's factor.
            SumOfRanks(ranks, step, sum, other);
            single.Step(reference, sum, averaged);
        }

        // Bit-level agreement, and the largest difference relative to the largest parameter (element-wise relative
        // differences are meaningless for parameters that pass through 0).
        int mismatches = 0;
        double maxDifference = 0, maxMagnitude = 0;
        for (int i = 0; i < n; i++)
        {
            if (BitConverter.SingleToInt32Bits(parameters[i]) != BitConverter.SingleToInt32Bits(reference[i]))
            {
                mismatches++;
            }

            maxDifference = Math.Max(maxDifference, Math.Abs((double)parameters[i] - reference[i]));
            maxMagnitude = Math.Max(maxMagnitude, Math.Abs((double)reference[i]));
        }

        facts["allocated_bytes"] = allocated.ToString(CultureInfo.InvariantCulture);
        facts["bitwise_mismatches"] = mismatches.ToString(CultureInfo.InvariantCulture);
        facts["max_relative"] = (maxDifference / maxMagnitude).ToString("R", CultureInfo.InvariantCulture);
        facts["parameters"] = Fingerprint(parameters);
        facts["state_bytes"] = sharded.StateBytes.ToString(CultureInfo.InvariantCulture);
        facts["single_state_bytes"] = sharded.UnshardedStateBytes.ToString(CultureInfo.InvariantCulture);
        facts["shard"] = $"{sharded.ShardStart}+{sharded.ShardLength}";

        // Restart with the same R: each rank's shard optimizer through its own checkpoint into a fresh one.
        using var checkpoint = new System.IO.MemoryStream();
        sharded.Local.SaveCheckpoint(checkpoint);
        checkpoint.Position = 0;
        var restarted = new ShardedOptimizer<Adam>(communicator, layout, Create);
        restarted.Local.LoadCheckpoint(checkpoint);
        float[] restartedParameters = (float[])parameters.Clone();

        // Clipping: every rank must see the same global norm and clip factor (bit for bit).
        Gradient(communicator.Rank, 1000, mine);
        StepResult clipped = sharded.Step(parameters, mine, new StepOptions { MaxGradientNorm = 0.5 });
        restarted.Step(restartedParameters, mine, new StepOptions { MaxGradientNorm = 0.5 });
        facts["restart_same"] = (Fingerprint(restartedParameters) == Fingerprint(parameters)).ToString();
        facts["clip_factor"] = BitConverter.DoubleToInt64Bits(clipped.ClipFactor).ToString("x16", CultureInfo.InvariantCulture);
        facts["clip_norm"] = clipped.GradientNorm.ToString("R", CultureInfo.InvariantCulture);
        facts["clip_parameters"] = Fingerprint(parameters);

        // A NaN that only the last rank has, in element 0 (rank 0's shard): every rank must skip.
        Gradient(communicator.Rank, 1001, mine);
        if (communicator.Rank == ranks - 1)
        {
            mine[0] = float.NaN;
        }

        string before = Fingerprint(parameters);
        long stepsBefore = sharded.Local.StepCount;
        StepResult skipped = sharded.Step(parameters, mine, new StepOptions { SkipNonFinite = true, MaxGradientNorm = 0.5 });
        facts["skip"] = $"skipped={skipped.Skipped} nonfinite={skipped.FoundNonFinite} unchanged={Fingerprint(parameters) == before && sharded.Local.StepCount == stepsBefore}";
        return facts;
    }

    /// <summary>A rank whose layout (mode "layout") or hyperparameters (mode "rule") differ from the others'.</summary>
    internal static Dictionary<string, string> RunMismatch(ICommunicator communicator, string mode)
    {
        bool odd = communicator.Rank == communicator.Size - 1;
        ParameterLayout layout = mode == "layout" && odd ? new ParameterLayout(new[] { 1000, 37, 4 }, new[] { 515, 2048, 1 }) : Model();
        try
        {
            _ = new ShardedOptimizer<Adam>(communicator, layout, l =>
            {
                Adam adam = Create(l);
                if (mode == "rule" && odd)
                {
                    adam.Beta2 = 0.99;
                }

                return adam;
            });
            return new Dictionary<string, string> { ["mismatch"] = "none" };
        }
        catch (InvalidOperationException e)
        {
            return new Dictionary<string, string> { ["mismatch"] = e.Message.Contains("disagree", StringComparison.Ordinal) ? "detected" : e.Message };
        }
    }

    /// <summary>
    /// Not a test: the step time of a sharded Adam over one tensor of <paramref name="length"/> elements (median of
    /// <paramref name="steps"/> steps after a warm-up), for BENCHMARKS.md and docs/distributed.md.
    /// </summary>
    internal static Dictionary<string, string> Bench(ICommunicator communicator, int length, int steps)
    {
        var sharded = new ShardedOptimizer<Adam>(communicator, ParameterLayout.Single(length), l => new Adam(l));
        var parameters = new float[length];
        var gradients = new float[length];
        Gradient(communicator.Rank, 1, gradients);
        sharded.Step(parameters, gradients);
        var times = new double[steps];
        for (int k = 0; k < steps; k++)
        {
            communicator.Barrier();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            sharded.Step(parameters, gradients);
            times[k] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        // The two collectives alone, on the same buffers, and the memory floor beside them: copying the whole
        // gradient arena once (what every rank's reduce-scatter must at least read, in the same moment's conditions).
        int[] counts = [.. sharded.ShardLengths];
        var shard = new float[sharded.ShardLength];
        var copy = new float[length];
        var scatter = new double[steps];
        var gather = new double[steps];
        var copies = new double[steps];
        for (int k = 0; k < steps; k++)
        {
            long copyStart = System.Diagnostics.Stopwatch.GetTimestamp();
            gradients.AsSpan().CopyTo(copy);
            copies[k] = System.Diagnostics.Stopwatch.GetElapsedTime(copyStart).TotalMilliseconds;
            communicator.Barrier();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            communicator.ReduceScatterSum(gradients, shard, counts);
            scatter[k] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            communicator.Barrier();
            start = System.Diagnostics.Stopwatch.GetTimestamp();
            communicator.AllGather(parameters, counts);
            gather[k] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        Array.Sort(scatter);
        Array.Sort(gather);
        Array.Sort(copies);
        return new Dictionary<string, string>
        {
            ["copy_arena_ms"] = copies[steps / 2].ToString("F1", CultureInfo.InvariantCulture),
            ["median_ms"] = times[steps / 2].ToString("F1", CultureInfo.InvariantCulture),
            ["reduce_scatter_ms"] = scatter[steps / 2].ToString("F1", CultureInfo.InvariantCulture),
            ["allgather_ms"] = gather[steps / 2].ToString("F1", CultureInfo.InvariantCulture),
            ["state_bytes"] = sharded.StateBytes.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The last rank fails with an unhandled exception while the others enter a step's collectives.</summary>
    internal static Dictionary<string, string> Die(ICommunicator communicator)
    {
        var sharded = new ShardedOptimizer<Adam>(communicator, Model(), Create);
        if (communicator.Rank == communicator.Size - 1)
        {
            throw new InvalidOperationException("This rank fails on purpose before its step.");
        }

        var parameters = new float[Model().TotalLength];
        var gradients = new float[parameters.Length];
        sharded.Step(parameters, gradients);
        return new Dictionary<string, string> { ["stepped"] = "true" };
    }

    /// <summary>The training sample's data-parallel loop: spirals, Adam, 200 steps.</summary>
    internal static Dictionary<string, string> Mlp(ICommunicator communicator)
    {
        OptGen.Samples.Training.Problem spirals = OptGen.Samples.Training.Trainer.Problems()[0];
        OptGen.Samples.Training.OptimizerChoice adam = OptGen.Samples.Training.Trainer.Choices[0];
        (double loss, long bytes, long unsharded) = OptGen.Samples.Training.DataParallel.Run(communicator, spirals, adam, 200, seed: 42);
        return new Dictionary<string, string>
        {
            ["loss"] = loss.ToString("R", CultureInfo.InvariantCulture),
            ["state_bytes"] = bytes.ToString(CultureInfo.InvariantCulture),
            ["single_state_bytes"] = unsharded.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>A sharded <see cref="Create"/> over <see cref="Model"/> (or <paramref name="layout"/>) with its state in <paramref name="precision"/>.</summary>
    internal static ShardedOptimizer<Adam> Sharded(ICommunicator communicator, StatePrecision precision, ParameterLayout? layout = null)
    {
        var sharded = new ShardedOptimizer<Adam>(communicator, layout ?? Model(), Create);
        if (precision != StatePrecision.Float32)
        {
            sharded.Local.ChangeStatePrecision(precision);
        }

        return sharded;
    }

    /// <summary>Steps before a sharded checkpoint is saved (<see cref="SaveCheckpoint"/>).</summary>
    internal const int CheckpointSteps = 10;

    /// <summary>Trains <see cref="CheckpointSteps"/> steps of <see cref="Run"/>'s model and gradients, then saves a sharded checkpoint into <paramref name="directory"/>.</summary>
    internal static Dictionary<string, string> SaveCheckpoint(ICommunicator communicator, string directory, StatePrecision precision)
    {
        ShardedOptimizer<Adam> sharded = Sharded(communicator, precision);
        var parameters = new float[sharded.Layout.TotalLength];
        var gradients = new float[parameters.Length];
        InitialParameters(parameters);
        for (int step = 1; step <= CheckpointSteps; step++)
        {
            Gradient(communicator.Rank, step, gradients);
            sharded.Step(parameters, gradients);
        }

        sharded.SaveCheckpoint(directory);
        return new Dictionary<string, string> { ["step_count"] = sharded.Local.StepCount.ToString(CultureInfo.InvariantCulture) };
    }

    /// <summary>Loads the sharded checkpoint in <paramref name="from"/> (written with any R) and, when that worked, saves it again into <paramref name="to"/> with this job's R.</summary>
    internal static Dictionary<string, string> LoadCheckpoint(ICommunicator communicator, string from, string to, StatePrecision precision)
    {
        ShardedOptimizer<Adam> sharded = Sharded(communicator, precision);
        string outcome = "ok";
        try
        {
            sharded.LoadCheckpoint(from);
            sharded.SaveCheckpoint(to);
        }
        catch (CheckpointException e)
        {
            outcome = e.Message.Replace('\n', ' ');
        }

        return new Dictionary<string, string>
        {
            ["load"] = outcome,
            ["step_count"] = sharded.Local.StepCount.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Steps of the float16 scenario (<see cref="HalfSteps"/>).</summary>
    internal const int HalfStepCount = 20;

    /// <summary>Float16 parameters and gradients (each rank's <see cref="Gradient"/> rounded to float16) through the sharded step; the managed bytes steps 2.. allocate and the parameters' fingerprint (widened to float32, exact).</summary>
    internal static Dictionary<string, string> HalfSteps(ICommunicator communicator)
    {
        var sharded = new ShardedOptimizer<Adam>(communicator, Model(), Create);
        int n = sharded.Layout.TotalLength;
        var initial = new float[n];
        InitialParameters(initial);
        var parameters = new Half[n];
        for (int i = 0; i < n; i++)
        {
            parameters[i] = (Half)initial[i];
        }

        var mine = new float[n];
        var mine16 = new Half[n];
        long allocated = 0;
        for (int step = 1; step <= HalfStepCount; step++)
        {
            Gradient(communicator.Rank, step, mine);
            for (int i = 0; i < n; i++)
            {
                mine16[i] = (Half)mine[i];
            }

            long heap = GC.GetAllocatedBytesForCurrentThread();
            sharded.Step(parameters, mine16);
            if (step > 1)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - heap;
            }
        }

        for (int i = 0; i < n; i++)
        {
            initial[i] = (float)parameters[i];
        }

        return new Dictionary<string, string>
        {
            ["allocated_bytes"] = allocated.ToString(CultureInfo.InvariantCulture),
            ["parameters"] = Fingerprint(initial),
            ["stochastic_parameters"] = StochasticBFloat16(communicator),
            ["mixed_tensors_parameters"] = MixedTensors(communicator, out long mixedAllocated),
            ["mixed_tensors_allocated_bytes"] = mixedAllocated.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>
    /// float32 parameters in one buffer per tensor with bfloat16 gradients (slices of one arena) through the
    /// per-tensor step for <see cref="HalfStepCount"/> steps: the parameters' fingerprint and the managed bytes steps 2.. allocate.
    /// </summary>
    internal static string MixedTensors(ICommunicator communicator, out long allocated)
    {
        ParameterLayout layout = Model();
        var sharded = new ShardedOptimizer<Adam>(communicator, layout, Create);
        int n = layout.TotalLength;
        var initial = new float[n];
        InitialParameters(initial);
        var tensors = new float[layout.TensorCount][];
        var parameters = new Memory<float>[layout.TensorCount];
        var gradients = new ReadOnlyMemory<BFloat16>[layout.TensorCount];
        var mine = new float[n];
        var mine16 = new BFloat16[n];
        for (int j = 0; j < layout.TensorCount; j++)
        {
            tensors[j] = initial.AsSpan(layout.ArenaOffsetOf(j), layout.LengthOf(j)).ToArray();
            parameters[j] = tensors[j];
            gradients[j] = new ReadOnlyMemory<BFloat16>(mine16, layout.ArenaOffsetOf(j), layout.LengthOf(j));
        }

        var options = new StepOptions { MaxGradientNorm = 2 };
        allocated = 0;
        for (int step = 1; step <= HalfStepCount; step++)
        {
            Gradient(communicator.Rank, step, mine);
            for (int i = 0; i < n; i++)
            {
                mine16[i] = (BFloat16)mine[i];
            }

            long heap = GC.GetAllocatedBytesForCurrentThread();
            sharded.Step(parameters, gradients, options);
            if (step > 1)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - heap;
            }
        }

        for (int j = 0; j < layout.TensorCount; j++)
        {
            tensors[j].CopyTo(initial, layout.ArenaOffsetOf(j));
        }

        return Fingerprint(initial);
    }

    /// <summary>
    /// bfloat16 parameters rounded stochastically and bfloat16 state, over a tensor longer than a work piece (so the
    /// cuts fall inside the single process's pieces): <see cref="HalfStepCount"/> steps, the parameters' fingerprint.
    /// </summary>
    internal static string StochasticBFloat16(ICommunicator communicator)
    {
        var layout = new ParameterLayout(new[] { 40_000, 37 }, new[] { 20_003, 3 });
        var sharded = new ShardedOptimizer<Adam>(communicator, layout, Create);
        sharded.Local.ChangeStatePrecision(StatePrecision.BFloat16);
        int n = layout.TotalLength;
        var wide = new float[n];
        InitialParameters(wide);
        var parameters = new BFloat16[n];
        var mine = new BFloat16[n];
        for (int i = 0; i < n; i++)
        {
            parameters[i] = (BFloat16)wide[i];
        }

        var options = new StepOptions { StochasticRounding = true, RoundingSeed = 11 };
        for (int step = 1; step <= HalfStepCount; step++)
        {
            Gradient(communicator.Rank, step, wide);
            for (int i = 0; i < n; i++)
            {
                mine[i] = (BFloat16)wide[i];
            }

            sharded.Step(parameters, mine, options);
        }

        for (int i = 0; i < n; i++)
        {
            wide[i] = (float)parameters[i];
        }

        return Fingerprint(wide);
    }

    /// <summary>Every state plane of <paramref name="optimizer"/> (widened to float32, exact), its tensors joined in arena order.</summary>
    internal static float[][] State(Adam optimizer) =>
        optimizer.Descriptor.States.Select(state => Enumerable.Range(0, optimizer.Layout.TensorCount).SelectMany(j =>
        {
            var part = new float[optimizer.Layout.LengthOf(j)];
            optimizer.CopyState(state.Name, j, part);
            return part;
        }).ToArray()).ToArray();

    internal static string Fingerprint(ReadOnlySpan<float> values)
    {
        ulong hash = 14695981039346656037UL;
        foreach (float v in values)
        {
            hash = (hash ^ (uint)BitConverter.SingleToInt32Bits(v)) * 1099511628211UL;
        }

        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }
}
