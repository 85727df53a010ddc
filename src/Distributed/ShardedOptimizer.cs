using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using OptGen.Engine;

namespace OptGen.Distributed;

/// <summary>
/// ZeRO stage 1 data parallelism: every process of <see cref="ICommunicator"/> holds the full parameters and its own
/// gradients, but the optimizer state only for its shard, a contiguous range of the packed arena of
/// <see cref="Layout"/>. A step reduce-scatters the gradients (sum; the 1/R average is folded into
/// <see cref="StepOptions.GradientScale"/>), runs the rule's fused kernel on the own shard, and all-gathers the
/// parameters, so afterwards every process holds the same parameters.
/// </summary>
/// <typeparam name="TOptimizer">The generated optimizer that steps the shard.</typeparam>
/// <remarks>
/// <para>Shards are cut at 16-element boundaries of the tensor each cut falls in, so every element takes the same
/// kernel path as in a single-process step: with R = 2 the result is bit-identical to one process stepping on the
/// averaged gradient (without clipping; the norm's summation order differs).</para>
/// <para>Clipping and non-finite skipping decide on the global norm: each process's Σ g² of its shard is
/// all-gathered and summed in rank order, so every process takes the same decision.</para>
/// <para>Every member that communicates is a collective: every process calls it in the same order with matching
/// arguments, from one thread (a step or checkpoint call while another runs throws
/// <see cref="InvalidOperationException"/>). See docs/distributed.md.</para>
/// </remarks>
public sealed partial class ShardedOptimizer<TOptimizer>
    where TOptimizer : Optimizer
{
    private readonly ICommunicator _communicator;
    private readonly Func<ParameterLayout, TOptimizer> _create;
    private readonly int[] _cuts;
    private readonly int[] _counts;
    private readonly float[] _shardGradients;
    private StepOptions? _lastOptions;
    private StepOptions? _scaledOptions;
    private int _busy; // 1 while a step or checkpoint call runs

    /// <summary>
    /// Creates this process's shard optimizer (a collective). Every process must pass the same
    /// <paramref name="layout"/> and create the same rule with the same hyperparameters; this is checked with one
    /// all-gather of a hash, and a mismatch throws on every process.
    /// </summary>
    /// <param name="communicator">The group of processes; this process is <see cref="ICommunicator.Rank"/>.</param>
    /// <param name="layout">The whole model's tensors and groups (the arena every process passes to <see cref="Step(Span{float}, ReadOnlySpan{float}, StepOptions?)"/>).</param>
    /// <param name="create">Creates the rule's optimizer over the layout it is given (the shard's): e.g. <c>l =&gt; new Adam(l)</c>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="create"/> returned an optimizer over another layout, or of a rule that cannot be sharded (one with reductions, or one that reads per-example squares).</exception>
    /// <exception cref="InvalidOperationException">The processes disagree on the layout, the rule, its hyperparameters or the state precision.</exception>
    public ShardedOptimizer(ICommunicator communicator, ParameterLayout layout, Func<ParameterLayout, TOptimizer> create)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(create);
        _communicator = communicator;
        _create = create;
        Layout = layout;
        _cuts = ShardLayout.Cuts(layout, communicator.Size);
        _counts = new int[communicator.Size];
        for (int r = 0; r < _counts.Length; r++)
        {
            _counts[r] = _cuts[r + 1] - _cuts[r];
        }

        ParameterLayout shard = ShardLayout.Restrict(layout, ShardStart, ShardLength);
        Local = create(shard) ?? throw new ArgumentException("The factory returned null.", nameof(create));
        if (Local.UpdatesInPasses)
        {
            // LAMB's trust ratio, Adafactor's row means…: a shard would reduce over its own part of a tensor only.
            throw new ArgumentException($"{Local.Descriptor.Name} reduces over whole tensors (rows, blocks) between passes; it cannot be sharded yet.", nameof(create));
        }

        if (Local.Descriptor.ReadsPerExampleSquares)
        {
            // Its every step would need the squares beside the gradients, which no sharded Step takes.
            throw new ArgumentException($"{Local.Descriptor.Name} averages per-example squared gradients, which a sharded step does not take (no Step overload passes them); it cannot be sharded yet.", nameof(create));
        }
        if (!Local.Layout.HasSameShape(shard))
        {
            throw new ArgumentException("The factory must create the optimizer over the layout it is given (the shard's).", nameof(create));
        }

        CheckAgreement();
        Local.GradientReducer = new RankOrderSum(communicator);
        Local.PlaceAsShardOf(layout, ShardStart);
        _shardGradients = new float[ShardLength];
    }

    /// <summary>The whole model's layout.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>
    /// This process's optimizer over its shard: set hyperparameters, group values and schedules here, the same on
    /// every process. Its <see cref="Optimizer.Layout"/> is the shard's (each tensor cut to its part of the shard).
    /// </summary>
    public TOptimizer Local { get; }

    /// <summary>The first arena element of this process's shard.</summary>
    public int ShardStart => _cuts[_communicator.Rank];

    /// <summary>The number of arena elements in this process's shard.</summary>
    public int ShardLength => _counts[_communicator.Rank];

    /// <summary>Every process's shard length, in rank order.</summary>
    public IReadOnlyList<int> ShardLengths => _counts;

    /// <summary>The bytes of optimizer state this process holds (its shard only).</summary>
    public long StateBytes => Local.StateBytes;

    /// <summary>The bytes of optimizer state one process would hold for the whole <see cref="Layout"/> (for comparison).</summary>
    public long UnshardedStateBytes => Local.StateBytesOver(Layout);

    /// <summary><paramref name="options"/> with the gradient factor divided by the number of processes (cached per options instance).</summary>
    /// <exception cref="ArgumentOutOfRangeException">GradientScale / R is 0 in float32 (the kernels' factor). Nothing is changed.</exception>
    internal StepOptions Averaged(StepOptions options)
    {
        if (!ReferenceEquals(options, _lastOptions))
        {
            double averaged = options.GradientScale / _communicator.Size;
            if (!HyperparameterRanges.Contains(HyperparameterRange.Positive, averaged))
            {
                throw new ArgumentOutOfRangeException(
                    nameof(StepOptions.GradientScale),
                    options.GradientScale,
                    $"GradientScale {options.GradientScale:R} divided by the {_communicator.Size} processes (a sharded float32 step averages the gradients in the kernels' float32 gradient factor) is {averaged:R}, which is 0 in float32; use a GradientScale of at least {_communicator.Size * (double)float.Epsilon:R}. Nothing was changed.");
            }

            // Every other option kept (a copy of the fields here had lost StepOptions.BatchSize).
            _scaledOptions = options.With(options.GradientScale / _communicator.Size, options.SkipNonFinite);
            _lastOptions = options;
        }

        return _scaledOptions!;
    }

    private void CheckAgreement()
    {
        ulong mine = Fingerprint();
        Span<ulong> all = stackalloc ulong[_communicator.Size];
        _communicator.AllGather<ulong>([mine], all);
        var differing = new List<int>();
        for (int r = 1; r < all.Length; r++)
        {
            if (all[r] != all[0])
            {
                differing.Add(r);
            }
        }

        if (differing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The processes disagree on the model layout, the rule, its hyperparameters or the state precision: rank(s) {string.Join(", ", differing)} differ from rank 0 " +
                $"(this is rank {_communicator.Rank}, {Local.Descriptor.Name} over {Layout.TensorCount} tensors / {Layout.TotalLength} elements, fingerprint {mine:x16}). " +
                "Every process must create the same optimizer over the same layout.");
        }
    }

    /// <summary>FNV-1a of what every process must agree on: the whole layout, the rule, its hyperparameter values, the state precision and R.</summary>
    private ulong Fingerprint()
    {
        var text = new StringBuilder();
        text.Append(Local.Descriptor.Name).Append('|').Append(Local.Descriptor.RuleId).Append('|').Append(Local.StatePrecision).Append('|').Append(_communicator.Size);
        for (int k = 0; k < Layout.GroupCount; k++)
        {
            text.Append("|g");
            for (int i = 0; i < Layout.TensorCountOf(k); i++)
            {
                text.Append(',').Append(Layout.LengthOf(Layout.FirstTensorOf(k) + i));
            }
        }

        foreach (HyperparameterDescriptor h in Local.Descriptor.Hyperparameters)
        {
            text.Append('|').Append(h.Name).Append('=').Append(BitConverter.DoubleToInt64Bits(Local[h.Name]));
        }

        return Fnv1a(text.ToString());
    }

    /// <summary>FNV-1a (64 bits) of <paramref name="text"/>'s UTF-16 code units.</summary>
    private static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>
    /// Marks this optimizer busy for one collective call (a step, a checkpoint save or load) until the scope is
    /// disposed; a second call meanwhile, from another thread, throws instead of sharing the step's buffers and
    /// interleaving collectives.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another call is running.</exception>
    private BusyScope Enter(string member)
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException(
                $"{member} was called while another step or checkpoint call of this ShardedOptimizer was running: its members are collectives; call them from one thread, one at a time.");
        }

        return new BusyScope(this);
    }

    private readonly ref struct BusyScope(ShardedOptimizer<TOptimizer> owner)
    {
        public void Dispose() => Volatile.Write(ref owner._busy, 0);
    }

    /// <summary>
    /// Every process's Σ g² and max |g|, all-gathered and combined in rank order (<see cref="GradientSummary.Combine"/>):
    /// identical on every process. One collective per step.
    /// </summary>
    private sealed class RankOrderSum(ICommunicator communicator) : IGradientSummaryReducer
    {
        private readonly GradientSummary[] _all = new GradientSummary[communicator.Size];

        public GradientSummary Reduce(GradientSummary partial)
        {
            communicator.AllGather<GradientSummary>([partial], _all);
            return GradientSummary.Combine(_all);
        }
    }
}
