using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// <c>torch.optim.Adafactor</c> (PyTorch ≥ 2.5, single-tensor path): for a tensor of two or more dimensions the
/// second moment is factored into row and column averages of g² over its last two dimensions; a vector keeps the
/// full average. Per tensor and step t: β̂ = 1 − t^c (c = <see cref="Beta2Decay"/>), ρ = min(η, 1/√t),
/// α = max(ε₂, RMS(p))·ρ (before decay), p ← p(1 − ηλ), V̂ = R·C/max(mean(R), ε₁) (or v), U = g/√max(V̂, ε₁²),
/// p ← p − α·U/max(1, RMS(U)/d). Defaults as PyTorch: η = 1e-2, c = −0.8, ε₁ = 2⁻²³ (float32's machine epsilon,
/// PyTorch's None), ε₂ = 1e-3, d = 1, λ = 0.
/// </summary>
/// <remarks>
/// <para>Passes: a matrix takes three (row and column sums of g² and Σp²; Σ U²; the update), a vector two (v, Σp²
/// and Σ U²; the update).</para>
/// <para>State is compact (<see cref="StateFloats"/>): an m × n matrix keeps m + n floats (per matrix of a stack), a
/// vector of n keeps n. <see cref="Variance"/> holds every tensor's R (m per matrix, row-major over a stack) or a
/// vector's v, one tensor after another; <see cref="ColumnVariance"/> every matrix's C (n per matrix), nothing for a
/// vector. At 4096 × 4096 that is 8192 floats, 0.002 bytes per parameter
/// (<see cref="Optimizer.StateBytesPerParameter"/>).</para>
/// <para>Give the tensors their shapes with <see cref="ParameterLayout.FromShapes"/>; a tensor created by length is
/// a vector.</para>
/// </remarks>
public sealed class Adafactor : MultiPassOptimizer
{
    /// <summary>float32's machine epsilon 2⁻²³: PyTorch's ε₁ when it is None.</summary>
    public const double Float32Epsilon = 1.1920928955078125e-07;

    private const int PassSums = 0;
    private const int PassUpdateNorm = 1;
    private const int PassUpdate = 2;

    private static readonly OptimizerDescriptor RuleDescriptor = new(
        name: "Adafactor",
        ruleId: "reduction.adafactor.v1",
        hyperparameters:
        [
            new("LearningRate", "η", 1e-2, HyperparameterRange.NonNegative),
            new("Beta2Decay", "c", -0.8, HyperparameterRange.Finite),
            new("Epsilon1", "ε₁", Float32Epsilon, HyperparameterRange.NonNegative),
            new("Epsilon2", "ε₂", 1e-3, HyperparameterRange.NonNegative),
            new("ClipThreshold", "d", 1.0, HyperparameterRange.Positive),
            new("WeightDecay", "λ", 0.0, HyperparameterRange.NonNegative),
            new("Maximize", "Maximize", 0, HyperparameterRange.Boolean),
        ],
        states: [new("Variance", "R"), new("ColumnVariance", "C")],
        bytesReadPerElement: 20,
        bytesWrittenPerElement: 4);

    private static readonly IReadOnlyList<PassTraffic> RulePasses = PassTraffic.Checked(
        RuleDescriptor,
        new("Σp² per tensor; row and column sums of g²", ["p", "g"], []), new("Σ U² per tensor", ["g"], []), new("p ← p(1 − ηλ) − α·U/max(1, RMS(U)/d)", ["p", "g"], ["p"]));

    private Piece[]? _units;
    private int[] _firstUnit = [];     // per tensor: its first unit (units are in tensor order)
    private int[] _columnOffset = [];  // per unit: where its column partial sums start in _columnPartials
    private double[] _columnPartials = [];
    private double[] _rowSums = [];     // per tensor row (over all matrices of all tensors), at _rowOffset[tensor]
    private int[] _rowOffset = [];
    private double[] _partials = [];    // per unit: Σp², ΣU²
    private double[] _sums = [];
    private float[] _alpha = [];        // per tensor: −α/max(1, RMS(U)/d)
    private float[] _rowFactor = [];    // per row: 1/√(R_i/max(mean R, ε₁)), at _rowOffset[tensor]
    private float[] _columnFactor = []; // per matrix column: 1/√C_j, at _columnStart[tensor]
    private int[] _columnStart = [];
    private float[] _kappaMax = [];     // per matrix: the largest κ_j (NaN if any is), at _matrixStart[tensor]
    private int[] _matrixStart = [];
    private double[] _columnSums = [];  // per matrix column: Σ of the units' partials, at _columnStart[tensor]

    /// <summary>Creates Adafactor for one vector tensor of <paramref name="length"/> parameters.</summary>
    public Adafactor(int length)
        : this(ParameterLayout.Single(length))
    {
    }

    /// <summary>Creates Adafactor for the tensors (with their shapes) and groups of <paramref name="layout"/>.</summary>
    public Adafactor(ParameterLayout layout)
        : base(RuleDescriptor, layout, RulePasses)
    {
    }

    /// <summary>η: the weight decay's factor and the largest relative step size ρ.</summary>
    public double LearningRate { get => GetHyperparameter(0); set => SetHyperparameter(0, value); }

    /// <summary>c ≤ 0: the second moments average with weight 1 − β̂ = t^c.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is positive or not finite.</exception>
    public double Beta2Decay { get => GetHyperparameter(1); set => SetHyperparameter(1, value); }

    /// <summary>ε₁ ≥ 0: the floor of mean(R) and of V̂ (squared); default float32's machine epsilon.</summary>
    public double Epsilon1 { get => GetHyperparameter(2); set => SetHyperparameter(2, value); }

    /// <summary>ε₂ ≥ 0: the floor of RMS(p) in the relative step size.</summary>
    public double Epsilon2 { get => GetHyperparameter(3); set => SetHyperparameter(3, value); }

    /// <summary>d ≥ 1: the update is scaled down when its RMS exceeds d.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or not finite.</exception>
    public double ClipThreshold { get => GetHyperparameter(4); set => SetHyperparameter(4, value); }

    /// <summary>λ: decoupled weight decay, p ← p(1 − ηλ).</summary>
    public double WeightDecay { get => GetHyperparameter(5); set => SetHyperparameter(5, value); }

    /// <summary>Whether to maximize the objective (steps along +g).</summary>
    public bool Maximize { get => GetHyperparameter(6) != 0; set => SetHyperparameter(6, value ? 1 : 0); }

    /// <summary>R (row averages of g², m per matrix) or a vector's full average v, tensor after tensor.</summary>
    public ReadOnlySpan<float> Variance => GetState(0);

    /// <summary>C (column averages of g², n per matrix) of every matrix tensor, tensor after tensor (vectors have none).</summary>
    public ReadOnlySpan<float> ColumnVariance => GetState(1);

    /// <inheritdoc/>
    private protected override bool IsCompact(int plane) => true;

    /// <inheritdoc/>
    private protected override Piece[] PassUnits => _units!;

    /// <inheritdoc/>
    private protected override int StateLengthOf(int plane, int tensor, ReadOnlySpan<double> hyperparameters)
    {
        (int matrices, int rows, int columns) = Layout.MatrixShapeOf(tensor);
        return !IsMatrix(tensor) ? (plane == 0 ? Layout.LengthOf(tensor) : 0) : matrices * (plane == 0 ? rows : columns);
    }

    /// <summary>The floats of state this rule needs for <paramref name="layout"/>: m + n per m × n matrix (per matrix of a stack), n per vector of n.</summary>
    public static long StateFloats(ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        long floats = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            (int matrices, int rows, int columns) = layout.MatrixShapeOf(j);
            floats += layout.RankOf(j) == 1 ? layout.LengthOf(j) : (long)matrices * (rows + columns);
        }

        return floats;
    }

    /// <inheritdoc/>
    private protected override string? RuleLimitProblem(int index, double value) => index switch
    {
        1 when value > 0 => "Beta2Decay must be <= 0.",
        4 when value < 1 => "ClipThreshold must be >= 1.",
        _ => null,
    };

    /// <inheritdoc/>
    protected override void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale)
    {
        StepScalars.RequireFinite(Math.Pow(step, hyperparameters[1]), "OneMinusBeta2", "t^c", step);
        StepScalars.RequireFinite(hyperparameters[2] * hyperparameters[2], "Epsilon1Squared", "ε₁²", step);
        StepScalars.RequireFinite(gradientScale, "GradientScale", "gradientScale", step);
    }

    private bool IsMatrix(int tensor) => Layout.RankOf(tensor) >= 2;

    private void Prepare()
    {
        ParameterLayout layout = Layout;
        // A matrix's units are whole rows, at most 64 and at most one per 8 rows: each unit keeps a partial sum per
        // column, so their memory stays below an eighth of the matrix's.
        _units = CutUnits(
            layout,
            j => IsMatrix(j) ? Math.Max(1, layout.MatrixShapeOf(j).Columns) : 1,
            maxPerTensor: j => IsMatrix(j) ? Math.Min(64, layout.MatrixShapeOf(j).Matrices * layout.MatrixShapeOf(j).Rows / 8) : int.MaxValue);
        _columnOffset = new int[_units.Length + 1];
        for (int u = 0; u < _units.Length; u++)
        {
            int j = _units[u].Tensor;
            _columnOffset[u + 1] = _columnOffset[u] + (IsMatrix(j) ? layout.MatrixShapeOf(j).Columns * layout.MatrixShapeOf(j).Matrices : 0);
        }

        _columnPartials = new double[_columnOffset[^1]];
        _firstUnit = new int[layout.TensorCount + 1];
        for (int j = 0, u = 0; j <= layout.TensorCount; j++)
        {
            while (u < _units.Length && _units[u].Tensor < j)
            {
                u++;
            }

            _firstUnit[j] = u;
        }

        _rowOffset = new int[layout.TensorCount + 1];
        for (int j = 0; j < layout.TensorCount; j++)
        {
            (int matrices, int rows, _) = layout.MatrixShapeOf(j);
            _rowOffset[j + 1] = _rowOffset[j] + (IsMatrix(j) ? matrices * rows : 0);
        }

        _rowSums = new double[_rowOffset[^1]];
        _rowFactor = new float[_rowOffset[^1]];
        _columnStart = new int[layout.TensorCount + 1];
        for (int j = 0; j < layout.TensorCount; j++)
        {
            (int matrices, _, int columns) = layout.MatrixShapeOf(j);
            _columnStart[j + 1] = _columnStart[j] + (IsMatrix(j) ? matrices * columns : 0);
        }

        _columnFactor = new float[_columnStart[^1]];
        _matrixStart = new int[layout.TensorCount + 1];
        for (int j = 0; j < layout.TensorCount; j++)
        {
            _matrixStart[j + 1] = _matrixStart[j] + (IsMatrix(j) ? layout.MatrixShapeOf(j).Matrices : 0);
        }

        _kappaMax = new float[_matrixStart[^1]];
        _columnSums = new double[_columnStart[^1]];
        _partials = new double[_units.Length * 2];
        _sums = new double[layout.TensorCount * 2];
        _alpha = new float[layout.TensorCount];
    }

    private protected override void RunPasses<TParameter, TGradient, TState>(StepPlan plan)
    {
        if (_units is null)
        {
            Prepare();
        }

        Piece[] units = _units!;
        RunUnits<TParameter, TGradient, TState>(PassSums, units.Length);
        UpdateFactors<TState>(plan);
        RunUnits<TParameter, TGradient, TState>(PassUpdateNorm, units.Length);
        SumPerTensor(units, _partials, 2, _sums);
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            ReadOnlySpan<double> h = plan.Hyperparameters(Layout.GroupOf(j));
            _alpha[j] = (float)ReductionFormulas.AdafactorAlpha(_sums[2 * j], _sums[(2 * j) + 1], Layout.LengthOf(j), h[0], h[3], h[4], plan.Step);
        }

        RunUnits<TParameter, TGradient, TState>(PassUpdate, units.Length);
    }

    /// <summary>Between passes 1 and 2, on the calling thread: R and C of every matrix from the row and column sums of g².</summary>
    private void UpdateFactors<TState>(StepPlan plan)
        where TState : struct, IElementCodec
    {
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            if (!IsMatrix(j) || Layout.LengthOf(j) == 0)
            {
                continue;
            }

            ReadOnlySpan<double> h = plan.Hyperparameters(Layout.GroupOf(j));
            float w = (float)Math.Pow(plan.Step, h[1]);
            (int matrices, int rows, int columns) = Layout.MatrixShapeOf(j);
            ref byte r = ref State<TState>(0, j, 0);
            ref byte c = ref State<TState>(1, j, 0);
            for (int i = 0; i < matrices * rows; i++)
            {
                float mean = (float)(_rowSums[_rowOffset[j] + i] / columns);
                TState.Store(ref r, (nuint)i, TorchLerp.Of(TState.Load(ref r, (nuint)i), mean, w));
            }

            // The units' column partials added in unit order, each unit's run read sequentially (the first copied:
            // 0 + x is x for the non-negative sums).
            Span<double> columnSums = _columnSums.AsSpan(_columnStart[j], matrices * columns);
            _columnPartials.AsSpan(_columnOffset[_firstUnit[j]], columnSums.Length).CopyTo(columnSums);
            for (int u = _firstUnit[j] + 1; u < _firstUnit[j + 1]; u++)
            {
                AddInto(columnSums, _columnPartials.AsSpan(_columnOffset[u], columnSums.Length));
            }

            for (int k = 0; k < matrices * columns; k++)
            {
                double sum = columnSums[k];
                TState.Store(ref c, (nuint)k, TorchLerp.Of(TState.Load(ref c, (nuint)k), (float)(sum / rows), w));
                _columnFactor[_columnStart[j] + k] = 1 / MathF.Sqrt(TState.Load(ref c, (nuint)k));
            }

            for (int a = 0; a < matrices; a++)
            {
                // MathF.Max propagates NaN: a NaN κ keeps every row of the matrix on the capped loops.
                float most = 0;
                foreach (float kappa in _columnFactor.AsSpan(_columnStart[j] + (a * columns), columns))
                {
                    most = MathF.Max(most, kappa);
                }

                _kappaMax[_matrixStart[j] + a] = most;
            }

            for (int a = 0; a < matrices; a++)
            {
                double sum = 0;
                for (int i = a * rows; i < (a + 1) * rows; i++)
                {
                    sum += TState.Load(ref r, (nuint)i);
                }

                float rowMean = MathF.Max((float)(sum / rows), (float)h[2]);
                for (int i = a * rows; i < (a + 1) * rows; i++)
                {
                    _rowFactor[_rowOffset[j] + i] = 1 / MathF.Sqrt(TState.Load(ref r, (nuint)i) / rowMean);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
    {
        Piece u = _units![unit];
        StepPlan plan = CurrentPlan;
        ReadOnlySpan<double> h = plan.Hyperparameters(u.Group);
        float scale = (float)(h[6] != 0 ? -plan.GradientScale : plan.GradientScale);

        // A matrix's passes leave a scale of ±1 (every step without loss scaling; −1 maximizes) out of g: pass 1 and 2
        // square it, pass 3 carries the sign in α.
        bool plusMinusOne = MathF.Abs(scale) == 1;
        float eps1Squared = (float)(h[2] * h[2]);
        ref byte p = ref Parameters<TParameter>(u.Tensor, u.Start);
        ref byte g = ref Gradients<TGradient>(u.Tensor, u.Start);
        bool matrix = IsMatrix(u.Tensor);
        (_, int rows, int columns) = Layout.MatrixShapeOf(u.Tensor);
        int firstRow = matrix ? u.Start / columns : 0;
        int rowCount = matrix ? u.Length / columns : 0;
        if (pass == PassSums)
        {
            // Σp² is read beside g (p and g in flight together), in double lanes: a vector's p in SquareLanes' order, a
            // matrix's rows four at a time (each row's squares added in row order, as the column partials).
            nuint n = (nuint)u.Length, i = 0;
            Vector512<double> uEven = default, uOdd = default, pEven = default, pOdd = default;
            double uTail = 0, pTail = 0;
            if (matrix)
            {
                // One row at a time (two streams, prefetched; four rows at once, eight streams, ran 25% slower from
                // memory). The unit clears its own partials (on its thread, just before it adds to them).
                _columnPartials.AsSpan(_columnOffset[unit], _columnOffset[unit + 1] - _columnOffset[unit]).Clear();
                Span<double> rowSums = _rowSums.AsSpan(_rowOffset[u.Tensor] + firstRow, rowCount);
                var squares = default(Lanes);
                for (int row = 0; row < rowCount; row++)
                {
                    int matrixIndex = (firstRow + row) / rows;
                    ref byte gRow = ref Unsafe.Add(ref g, (nint)row * columns * TGradient.ElementSize);
                    ref byte pRow = ref Unsafe.Add(ref p, (nint)row * columns * TParameter.ElementSize);
                    ref double partial = ref _columnPartials[_columnOffset[unit] + (matrixIndex * columns)];
                    (rowSums[row], squares) = plusMinusOne
                        ? RowSquares<TParameter, TGradient, Unscaled>(ref pRow, ref gRow, (nuint)columns, scale, ref partial, squares)
                        : RowSquares<TParameter, TGradient, Scaled>(ref pRow, ref gRow, (nuint)columns, scale, ref partial, squares);
                }

                (pEven, pOdd, pTail) = (squares.Even, squares.Odd, squares.Tail);
            }
            else
            {
                // A vector: v and Σ U² (U = g/√max(v, ε₁²)) in one pass, U² in double lanes held in locals.
                float w = (float)Math.Pow(plan.Step, h[1]);
                ref byte v = ref State<TState>(0, u.Tensor, u.Start);
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; i + 16 <= n; i += 16)
                    {
                        (Vector512<double> a, Vector512<double> b) = Widen16<TParameter, Unscaled>(ref p, i, 1);
                        pEven += a * a;
                        pOdd += b * b;
                        Vector512<float> gi = TGradient.Load512(ref g, i) * scale;
                        Vector512<float> vi = TorchLerp.Of(TState.Load512(ref v, i), gi * gi, w);
                        TState.Store512(ref v, i, vi);
                        if (typeof(TState) != typeof(Float32Codec))
                        {
                            vi = TState.Load512(ref v, i);
                        }

                        SquareLanes.Add(gi / Vector512.Sqrt(Vector512.Max(vi, Vector512.Create(eps1Squared))), ref uEven, ref uOdd);
                    }
                }

                for (; i + 8 <= n; i += 8)
                {
                    Vector256<float> gi = TGradient.Load256(ref g, i) * scale;
                    TState.Store256(ref v, i, TorchLerp.Of(TState.Load256(ref v, i), gi * gi, w));
                    Vector256<float> update = gi / Vector256.Sqrt(Vector256.Max(TState.Load256(ref v, i), Vector256.Create(eps1Squared)));

                    // Of 16 elements the first 8 go to the even lanes, the next 8 to the odd ones (as Vector512 does).
                    if ((i & 8) == 0)
                    {
                        SquareLanes.Add(TParameter.Load256(ref p, i), ref pEven);
                        SquareLanes.Add(update, ref uEven);
                    }
                    else
                    {
                        SquareLanes.Add(TParameter.Load256(ref p, i), ref pOdd);
                        SquareLanes.Add(update, ref uOdd);
                    }
                }

                for (; i < n; i++)
                {
                    SquareLanes.Add(TParameter.Load(ref p, i), ref pTail);
                    float gi = TGradient.Load(ref g, i) * scale;
                    TState.Store(ref v, i, TorchLerp.Of(TState.Load(ref v, i), gi * gi, w));
                    SquareLanes.Add(gi / MathF.Sqrt(MathF.Max(TState.Load(ref v, i), eps1Squared)), ref uTail);
                }
            }

            _partials[2 * unit] = SquareLanes.Fold(pEven, pOdd, pTail);
            _partials[(2 * unit) + 1] = SquareLanes.Fold(uEven, uOdd, uTail);
            return;
        }

        if (pass == PassUpdateNorm && !matrix)
        {
            return;
        }

        if (pass == PassUpdate)
        {
            SeedRounding<TParameter>(plan, u);
        }

        float decay = (float)(1 - (h[0] * h[5]));
        float alpha = _alpha[u.Tensor];
        if (!matrix)
        {
            ref byte v = ref State<TState>(0, u.Tensor, u.Start);
            nuint n = (nuint)u.Length, i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16)
                {
                    Vector512<float> update = (TGradient.Load512(ref g, i) * scale) / Vector512.Sqrt(Vector512.Max(TState.Load512(ref v, i), Vector512.Create(eps1Squared)));
                    TParameter.Store512(ref p, i, (TParameter.Load512(ref p, i) * decay) + (alpha * update));
                }
            }

            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> update = (TGradient.Load256(ref g, i) * scale) / Vector256.Sqrt(Vector256.Max(TState.Load256(ref v, i), Vector256.Create(eps1Squared)));
                TParameter.Store256(ref p, i, (TParameter.Load256(ref p, i) * decay) + (alpha * update));
            }

            for (; i < n; i++)
            {
                float update = (TGradient.Load(ref g, i) * scale) / MathF.Sqrt(MathF.Max(TState.Load(ref v, i), eps1Squared));
                TParameter.Store(ref p, i, (TParameter.Load(ref p, i) * decay) + (alpha * update));
            }

            return;
        }

        // A matrix: per row, U = g/√max(R_i·C_j/max(mean R, ε₁), ε₁²) = g·min(ρ_i·κ_j, 1/ε₁) along the row's columns,
        // with ρ_i = 1/√(R_i/max(mean R, ε₁)) and κ_j = 1/√C_j computed once per step (UpdateFactors).
        float cap = 1 / MathF.Sqrt(eps1Squared);
        var lanes = default(Lanes);
        for (int row = 0; row < rowCount; row++)
        {
            int globalRow = firstRow + row;
            int matrixIndex = globalRow / rows;
            float rho = _rowFactor[_rowOffset[u.Tensor] + globalRow];

            // ρ·κ_j ≤ ρ·max κ (rounding is monotonic): when that is ≤ 1/ε₁ no element of the row is capped and the
            // 512-bit loops skip the min (the same values; the narrower loops keep it).
            bool uncapped = rho * _kappaMax[_matrixStart[u.Tensor] + matrixIndex] <= cap;
            ref byte kappa = ref Unsafe.As<float, byte>(ref _columnFactor[_columnStart[u.Tensor] + (matrixIndex * columns)]);
            nint offset = (nint)row * columns;
            ref byte gRow = ref Unsafe.Add(ref g, offset * TGradient.ElementSize);
            var factors = new RowFactors(rho, cap, uncapped);

            if (pass == PassUpdateNorm)
            {
                lanes = plusMinusOne
                    ? UpdateNormRow<TGradient, Unscaled>(ref gRow, ref kappa, (nuint)columns, factors, scale, lanes)
                    : UpdateNormRow<TGradient, Scaled>(ref gRow, ref kappa, (nuint)columns, factors, scale, lanes);
                continue;
            }

            // The row's own arena position: stores index the row from its start (pRow), not the unit's.
            SeedRounding<TParameter>(plan, new Piece(u.Tensor, u.Group, u.Start + (int)offset, columns));
            ref byte pRow = ref Unsafe.Add(ref p, offset * TParameter.ElementSize);
            if (plusMinusOne)
            {
                UpdateRow<TParameter, TGradient, Unscaled>(ref pRow, ref gRow, ref kappa, (nuint)columns, factors, scale, decay, scale * alpha);
            }
            else
            {
                UpdateRow<TParameter, TGradient, Scaled>(ref pRow, ref gRow, ref kappa, (nuint)columns, factors, scale, decay, alpha);
            }
        }

        if (pass == PassUpdateNorm)
        {
            _partials[(2 * unit) + 1] = SquareLanes.Fold(lanes.Even, lanes.Odd, lanes.Tail);
        }
    }

    /// <summary>
    /// Pass 2 along one matrix row: adds (U_j)² = (scale·g_j·min(ρκ_j, cap))² to <paramref name="lanes"/> in
    /// <see cref="SquareLanes"/>' order (the squares are exact in double: fused or not, the same sums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Lanes UpdateNormRow<TGradient, TScale>(ref byte g, ref byte kappa, nuint n, RowFactors f, float scale, Lanes lanes)
        where TGradient : struct, IElementCodec
        where TScale : struct, IScale
    {
        (Vector512<double> even, Vector512<double> odd, double tail) = lanes;
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> rho = Vector512.Create(f.Rho), cap = Vector512.Create(f.Cap);
            if (f.Uncapped)
            {
                for (; j + 16 <= n; j += 16)
                {
                    PassPrefetch.Ahead<TGradient>(ref g, j);
                    (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(TScale.Of(TGradient.Load512(ref g, j), scale) * (rho * Float32Codec.Load512(ref kappa, j)));
                    even = Vector512.FusedMultiplyAdd(lo, lo, even);
                    odd = Vector512.FusedMultiplyAdd(hi, hi, odd);
                }
            }
            else
            {
                for (; j + 16 <= n; j += 16)
                {
                    Vector512<float> factor = Vector512.Min(rho * Float32Codec.Load512(ref kappa, j), cap);
                    (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(TScale.Of(TGradient.Load512(ref g, j), scale) * factor);
                    even = Vector512.FusedMultiplyAdd(lo, lo, even);
                    odd = Vector512.FusedMultiplyAdd(hi, hi, odd);
                }
            }
        }

        for (; j + 16 <= n; j += 16)
        {
            Vector256<float> f0 = Vector256.Min(f.Rho * Float32Codec.Load256(ref kappa, j), Vector256.Create(f.Cap));
            Vector256<float> f1 = Vector256.Min(f.Rho * Float32Codec.Load256(ref kappa, j + 8), Vector256.Create(f.Cap));
            SquareLanes.Add(TScale.Of(TGradient.Load256(ref g, j), scale) * f0, TScale.Of(TGradient.Load256(ref g, j + 8), scale) * f1, ref even, ref odd);
        }

        if (j + 8 <= n)
        {
            Vector256<float> f0 = Vector256.Min(f.Rho * Float32Codec.Load256(ref kappa, j), Vector256.Create(f.Cap));
            SquareLanes.Add(TScale.Of(TGradient.Load256(ref g, j), scale) * f0, ref even);
            j += 8;
        }

        for (; j < n; j++)
        {
            SquareLanes.Add(TScale.Of(TGradient.Load(ref g, j), scale) * MathF.Min(f.Rho * Float32Codec.Load(ref kappa, j), f.Cap), ref tail);
        }

        return new Lanes(even, odd, tail);
    }

    /// <summary>Pass 3 along one matrix row: p_j ← p_j·decay + α·U_j, U_j = scale·g_j·min(ρκ_j, cap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateRow<TParameter, TGradient, TScale>(ref byte p, ref byte g, ref byte kappa, nuint n, RowFactors f, float scale, float decay, float alpha)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TScale : struct, IScale
    {
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> rho = Vector512.Create(f.Rho), cap = Vector512.Create(f.Cap), d = Vector512.Create(decay), a = Vector512.Create(alpha);
            if (f.Uncapped)
            {
                for (; j + 16 <= n; j += 16)
                {
                    PassPrefetch.Ahead<TParameter>(ref p, j);
                    PassPrefetch.Ahead<TGradient>(ref g, j);
                    Vector512<float> update = TScale.Of(TGradient.Load512(ref g, j), scale) * (rho * Float32Codec.Load512(ref kappa, j));
                    TParameter.Store512(ref p, j, (TParameter.Load512(ref p, j) * d) + (a * update));
                }
            }
            else
            {
                for (; j + 16 <= n; j += 16)
                {
                    Vector512<float> update = TScale.Of(TGradient.Load512(ref g, j), scale) * Vector512.Min(rho * Float32Codec.Load512(ref kappa, j), cap);
                    TParameter.Store512(ref p, j, (TParameter.Load512(ref p, j) * d) + (a * update));
                }
            }
        }

        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> update = TScale.Of(TGradient.Load256(ref g, j), scale) * Vector256.Min(f.Rho * Float32Codec.Load256(ref kappa, j), Vector256.Create(f.Cap));
            TParameter.Store256(ref p, j, (TParameter.Load256(ref p, j) * decay) + (alpha * update));
        }

        for (; j < n; j++)
        {
            float update = TScale.Of(TGradient.Load(ref g, j), scale) * MathF.Min(f.Rho * Float32Codec.Load(ref kappa, j), f.Cap);
            TParameter.Store(ref p, j, (TParameter.Load(ref p, j) * decay) + (alpha * update));
        }
    }

    /// <summary><paramref name="sums"/>[k] += <paramref name="addends"/>[k] for every k.</summary>
    private static void AddInto(Span<double> sums, ReadOnlySpan<double> addends)
    {
        ref double s = ref MemoryMarshal.GetReference(sums);
        ref double a = ref MemoryMarshal.GetReference(addends);
        nuint n = (nuint)sums.Length, k = 0;
        for (; k + 4 <= n; k += 4)
        {
            Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref s, k) + Vector256.LoadUnsafe(ref a, k), ref s, k);
        }

        for (; k < n; k++)
        {
            Unsafe.Add(ref s, k) += Unsafe.Add(ref a, k);
        }
    }

    /// <summary>
    /// Pass 1 along one matrix row: the row's Σ_j (scale·g_j)² in double lanes (<see cref="SquareLanes"/>' order), each
    /// square also added to column j's partial sum at <paramref name="partial"/>, and each p_j² to
    /// <paramref name="squares"/>. Squares of widened floats are exact in double, so the fused multiply-adds of the
    /// 512-bit loop give the bits of the narrower loops' multiply and add.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double RowSum, Lanes Squares) RowSquares<TParameter, TGradient, TScale>(ref byte p, ref byte g, nuint n, float scale, ref double partial, Lanes squares)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TScale : struct, IScale
    {
        Vector512<double> even = default, odd = default;
        (Vector512<double> pEven, Vector512<double> pOdd, double pTail) = squares;
        double tail = 0;
        nuint k = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; k + 16 <= n; k += 16)
            {
                PassPrefetch.Ahead<TParameter>(ref p, k);
                PassPrefetch.Ahead<TGradient>(ref g, k);
                (Vector512<double> a, Vector512<double> b) = Widen16<TParameter, Unscaled>(ref p, k, 1);
                pEven = Vector512.FusedMultiplyAdd(a, a, pEven);
                pOdd = Vector512.FusedMultiplyAdd(b, b, pOdd);
                (Vector512<double> lo, Vector512<double> hi) = Widen16<TGradient, TScale>(ref g, k, scale);
                even = Vector512.FusedMultiplyAdd(lo, lo, even);
                odd = Vector512.FusedMultiplyAdd(hi, hi, odd);
                Vector512.StoreUnsafe(Vector512.FusedMultiplyAdd(lo, lo, Vector512.LoadUnsafe(ref partial, k)), ref partial, k);
                Vector512.StoreUnsafe(Vector512.FusedMultiplyAdd(hi, hi, Vector512.LoadUnsafe(ref partial, k + 8)), ref partial, k + 8);
            }
        }

        for (; k + 8 <= n; k += 8)
        {
            Vector512<double> squaresOfP = Squares(TParameter.Load256(ref p, k));
            Vector512<double> squaresOfG = Squares(TScale.Of(TGradient.Load256(ref g, k), scale));
            if ((k & 8) == 0)
            {
                pEven += squaresOfP;
                even += squaresOfG;
            }
            else
            {
                pOdd += squaresOfP;
                odd += squaresOfG;
            }

            Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref partial, k) + squaresOfG, ref partial, k);
        }

        for (; k < n; k++)
        {
            SquareLanes.Add(TParameter.Load(ref p, k), ref pTail);
            float x = TScale.Of(TGradient.Load(ref g, k), scale);
            double square = (double)x * x;
            tail += square;
            Unsafe.Add(ref partial, k) += square;
        }

        return (SquareLanes.Fold(even, odd, tail), new Lanes(pEven, pOdd, pTail));
    }

    /// <summary>
    /// x[k … k + 15] (scaled by <typeparamref name="TScale"/>) widened to double (exact), lanes in order: the 512-bit
    /// loops' widening. With AVX-512F each half is converted from eight floats (vcvtps2pd from a 256-bit operand), not
    /// extracted from a 512-bit vector: the same values with fewer instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<double> Low, Vector512<double> High) Widen16<TCodec, TScale>(ref byte x, nuint k, float scale)
        where TCodec : struct, IElementCodec
        where TScale : struct, IScale =>
        Avx512F.IsSupported
            ? (Avx512F.ConvertToVector512Double(TScale.Of(TCodec.Load256(ref x, k), scale)), Avx512F.ConvertToVector512Double(TScale.Of(TCodec.Load256(ref x, k + 8), scale)))
            : Vector512.Widen(TScale.Of(TCodec.Load512(ref x, k), scale));

    /// <summary>The squares of eight lanes in double (exact), as one Vector512 in lane order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Squares(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        return Vector512.Create(lo * lo, hi * hi);
    }

    /// <summary>How a pass applies the step's gradient scale: a type argument, so the loops without one carry no multiply.</summary>
    private interface IScale
    {
        static abstract float Of(float x, float scale);

        static abstract Vector256<float> Of(Vector256<float> x, float scale);

        static abstract Vector512<float> Of(Vector512<float> x, float scale);
    }

    /// <summary>x·scale.</summary>
    private readonly struct Scaled : IScale
    {
        public static float Of(float x, float scale) => x * scale;

        public static Vector256<float> Of(Vector256<float> x, float scale) => x * scale;

        public static Vector512<float> Of(Vector512<float> x, float scale) => x * scale;
    }

    /// <summary>x as it is: for a scale of ±1 where only squares are taken (or the sign is carried elsewhere).</summary>
    private readonly struct Unscaled : IScale
    {
        public static float Of(float x, float scale) => x;

        public static Vector256<float> Of(Vector256<float> x, float scale) => x;

        public static Vector512<float> Of(Vector512<float> x, float scale) => x;
    }

    /// <summary>One matrix row's factors in pass 2 and 3: ρ_i, the cap 1/ε₁ on ρ_iκ_j, and whether no column reaches it.</summary>
    private readonly record struct RowFactors(float Rho, float Cap, bool Uncapped);

    /// <summary>A unit's Σp² (or Σ U²) so far, in <see cref="SquareLanes"/>' accumulators, carried from row to row.</summary>
    private readonly record struct Lanes(Vector512<double> Even, Vector512<double> Odd, double Tail);
}
