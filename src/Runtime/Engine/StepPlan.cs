using System;

namespace OptGen.Engine;

/// <summary>
/// One step, decided before anything is written: the step number, the options, the resolved thread count, the
/// gradient norm and the clip/skip decision, and each group's hyperparameters (schedules applied) and carried host
/// scalars (advanced to this step). Owned by one optimizer and reused by every step, so planning allocates nothing.
/// </summary>
/// <remarks>
/// <para>Filled in phases by the optimizer's engine members, in this order: <see cref="Optimizer.BeginStep"/>
/// (step number, options, threads), <see cref="Optimizer.Decide"/> (norm, clip, skip; only when
/// <see cref="NeedsNorm"/>), <see cref="Optimizer.PrepareGroups"/> (per-group values, validated), and
/// <see cref="Optimizer.CommitStep"/> (the only phase that changes the optimizer).</para>
/// <para>Only valid between <see cref="Optimizer.EnterGuard"/> and the guard's release.</para>
/// </remarks>
internal sealed partial class StepPlan
{
    private readonly double[][] _hyperparameters;
    private readonly double[][] _hostState;

    internal StepPlan(ParameterLayout layout, int hyperparameters, int hostStates)
    {
        Layout = layout;
        _hyperparameters = new double[layout.GroupCount][];
        _hostState = new double[layout.GroupCount][];
        for (int k = 0; k < layout.GroupCount; k++)
        {
            _hyperparameters[k] = new double[hyperparameters];
            _hostState[k] = new double[hostStates];
        }

        Pieces = CreatePieces(layout);
    }

    /// <summary>
    /// Elements per work piece: the unit of work handed to a core and of the gradient-norm partial sums. A multiple
    /// of 16, so pieces start on 16-element boundaries and the only scalar tails are at tensor ends.
    /// </summary>
    public const int PieceLength = 16384;

    /// <summary>The tensors and groups the step updates.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>Every tensor cut into <see cref="PieceLength"/>-element pieces, in tensor order; fixed for the layout.</summary>
    public Piece[] Pieces { get; }

    /// <summary>The CPU norm pass's scratch length: each piece's Σ g², then each piece's max |g|.</summary>
    public int NormPartialsLength => 2 * Pieces.Length;

    /// <summary>The step's options (never null).</summary>
    public StepOptions Options { get; private set; } = StepOptions.Default;

    /// <summary>The step number t = StepCount + 1 this step takes.</summary>
    public long Step { get; private set; }

    /// <summary>
    /// The resolved parallelism limit: <see cref="StepOptions.MaxDegreeOfParallelism"/> when not −1, else
    /// <see cref="Optimizer.MaxDegreeOfParallelism"/> (−1 there: <see cref="Kernels.ParallelUpdate.DefaultMaxDegreeOfParallelism"/>).
    /// 1 means the calling thread only.
    /// </summary>
    public int MaxDegreeOfParallelism { get; private set; }

    /// <summary>
    /// The threads a CPU step uses: <see cref="Kernels.ParallelUpdate.ThreadsFor"/> of the total length and
    /// <see cref="MaxDegreeOfParallelism"/>, at most one per piece.
    /// </summary>
    public int Threads { get; private set; }

    /// <summary>Whether the step needs the gradient norm (clipping, skipping, or <see cref="StepOptions.ComputeGradientNorm"/>).</summary>
    public bool NeedsNorm => Options.NeedsNorm;

    /// <summary>The global L2 norm of the unscaled gradients, or NaN when it was not computed.</summary>
    public double GradientNorm { get; private set; }

    /// <summary>Whether a gradient element was NaN or ±∞ (known only when the norm was computed).</summary>
    public bool FoundNonFinite { get; private set; }

    /// <summary>The clipping factor min(1, max/(norm + 1e-6)), or 1.</summary>
    public double ClipFactor { get; private set; }

    /// <summary>The factor on every gradient element the kernels apply: <see cref="StepOptions.GradientScale"/> × <see cref="ClipFactor"/>.</summary>
    public double GradientScale => Options.GradientScale * ClipFactor;

    /// <summary>Group <paramref name="group"/>'s hyperparameters for this step, in descriptor order, schedules applied.</summary>
    public ReadOnlySpan<double> Hyperparameters(int group) => _hyperparameters[group];

    /// <summary>Group <paramref name="group"/>'s carried host scalars after this step's advance (empty for most rules).</summary>
    public ReadOnlySpan<double> HostState(int group) => _hostState[group];

    /// <summary>The writable snapshot of group <paramref name="group"/>'s hyperparameters (engine only).</summary>
    internal double[] HyperparameterSnapshot(int group) => _hyperparameters[group];

    /// <summary>The writable snapshot of group <paramref name="group"/>'s host scalars (engine only).</summary>
    internal double[] HostStateSnapshot(int group) => _hostState[group];

    /// <summary>Starts planning step <paramref name="step"/>: forgets the previous step's decision.</summary>
    internal void Begin(StepOptions options, long step, int maxDegreeOfParallelism, int threads)
    {
        Options = options;
        Step = step;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
        Threads = threads;
        GradientNorm = double.NaN;
        FoundNonFinite = false;
        ClipFactor = 1.0;
    }

    /// <summary>Records the norm decision (see <see cref="Optimizer.Decide"/>).</summary>
    internal void SetDecision(double norm, bool nonFinite, double clip)
    {
        GradientNorm = norm;
        FoundNonFinite = nonFinite;
        ClipFactor = clip;
    }

    private static Piece[] CreatePieces(ParameterLayout layout)
    {
        int count = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            count += (layout.LengthOf(j) + PieceLength - 1) / PieceLength;
        }

        var pieces = new Piece[count];
        int n = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            int length = layout.LengthOf(j);
            for (int start = 0; start < length; start += PieceLength)
            {
                pieces[n++] = new Piece(j, layout.GroupOf(j), start, Math.Min(PieceLength, length - start));
            }
        }

        return pieces;
    }
}

/// <summary>A run of at most <see cref="StepPlan.PieceLength"/> elements of one tensor, starting on a 16-element boundary.</summary>
/// <param name="Tensor">The tensor, in <see cref="ParameterLayout"/> order.</param>
/// <param name="Group">The tensor's group.</param>
/// <param name="Start">The first element, relative to the tensor.</param>
/// <param name="Length">The number of elements.</param>
internal readonly record struct Piece(int Tensor, int Group, int Start, int Length);
