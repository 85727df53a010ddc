using System.Collections.Generic;
using System.Linq;
using System.Text;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 2: lowers a declared rule to the update IR. Every attribute contributes host statements (per-step
    /// scalars in double) and element statements (the fused per-element update), in the order PyTorch applies
    /// them, so that float32 results round the same way:
    /// <code>
    /// g ← g·scale                          (unscaling, clipping and maximize folded into one factor)
    /// g ← g + λ·p                          (L2 weight decay)        | p ← p·(1 − ηλ)   (decoupled)
    /// m ← a₁·m + b₁·g                      (first moment)
    /// s ← a₂·s + b₂·g², Σ, max …           (second moment; centered; AMSGrad)
    /// d ← √ŝ + ε | √(ŝ + ε) | 1 + √ŝ/ε     (denominator)
    /// u ← m / d                            (direction)
    /// b ← μ·b + c·u; u ← b | u + μ·b       (momentum)
    /// p ← p − ηₜ·u
    /// </code>
    /// </summary>
    internal static partial class Lowering
    {
        private const string Parameter = "p";
        private const string Gradient = "g";

        public static OptimizerModel Lower(OptimizerSpec spec)
        {
            var b = new ProgramBuilder();
            Build(spec, b);
            UpdateProgram program = b.ToProgram();
            KernelModel kernel = KernelOf(program);
            string ruleId = Hash.Fnv64(Canonical(program)).ToString("x16");
            return new OptimizerModel(spec.Type, spec.RuleName, program, kernel, ruleId);
        }

        /// <summary>The members a class with this rule receives (for collision checks).</summary>
        public static IEnumerable<string> GeneratedMemberNames(OptimizerSpec spec)
        {
            var b = new ProgramBuilder();
            Build(spec, b);
            return b.Hyperparameters.Select(h => h.Name)
                .Concat(b.States.Select(s => s.Name))
                .Concat(b.HostStates.Select(s => s.Name))
                .Concat(new[] { "CreateKernel", "RuleDescriptor", "RunKernel", "AdvanceHostState" });
        }

        private static void Build(OptimizerSpec spec, ProgramBuilder b)
        {
            bool decoupledEps = spec.Epsilon?.Placement == EpsilonPlacement.Decoupled;
            b.Hyperparameter("LearningRate", decoupledEps ? "η₀" : "η", spec.LearningRate, "NonNegative",
                decoupledEps ? "The learning rate η₀ of the decoupled-ε form (η = ε·η₀)." : "The learning rate η.");
            if (spec.HasLearningRateDecay)
            {
                b.Hyperparameter("LearningRateDecay", "δ", spec.LearningRateDecay, "NonNegative", "Adagrad's learning-rate decay δ: ηₜ = η / (1 + (t − 1)·δ).");
            }

            FirstMomentSpec? first = spec.FirstMoment;
            SecondMomentSpec? second = spec.SecondMoment;
            MomentumSpec? momentum = spec.Momentum;
            bool power = spec.BiasCorrection == BiasCorrectionMode.Power;
            bool minT = spec.BiasCorrection == BiasCorrectionMode.MinT;

            if (first is not null)
            {
                b.Hyperparameter("Beta1", "β₁", first.Beta, "UnitInterval", "The first moment's decay β₁ = 1 − 1/N₁.");
            }

            bool secondAverages = second is { Kind: SecondMomentKind.ExponentialAverage or SecondMomentKind.InfinityNorm };
            if (second is not null && secondAverages)
            {
                b.Hyperparameter(second.PropertyName, "β₂", second.Beta, "UnitInterval", "The second moment's decay β₂ = 1 − 1/N₂.");
            }

            if (second is { HasInitialValue: true })
            {
                b.Hyperparameter("InitialAccumulatorValue", "s₀", second.InitialValue, "NonNegative", "The value the second moment starts at (read when the state is allocated or reset).");
            }

            if (spec.Epsilon is not null)
            {
                b.Hyperparameter("Epsilon", "ε", spec.Epsilon.Value, "Positive", "ε, which keeps the denominator away from zero.");
            }

            StepScheduleHyperparameters(spec, b);

            if (momentum is not null)
            {
                b.Hyperparameter("Momentum", "μ", momentum.Coefficient, "UnitInterval", momentum.Style == MomentumStyle.Classic
                    ? "The momentum decay μ = 1 − 1/N."
                    : "The momentum coefficient μ.");
                if (momentum.Style == MomentumStyle.PyTorch)
                {
                    b.Hyperparameter("Dampening", "τ", momentum.Dampening, "Probability", "PyTorch's dampening τ: b ← μ·b + (1 − τ)·u.");
                }
            }

            if (spec.WeightDecay is not null)
            {
                b.Hyperparameter("WeightDecay", "λ", spec.WeightDecay.Value, "NonNegative", spec.WeightDecay.Decoupled
                    ? "The decoupled weight decay λ: p ← p·(1 − ηλ)."
                    : "The L2 weight decay λ: g ← g + λ·p.");
            }

            if (spec.Maximize)
            {
                b.Hyperparameter("Maximize", "maximize", 0, "Boolean", "Ascend rather than descend (use −g), as PyTorch's maximize.", isBoolean: true);
            }

            // ---- Host: per-step scalars, in double. ----
            Expr t = Expr.Step();
            Expr lr = Expr.Hyperparameter("LearningRate");
            Expr one = Expr.Constant(1);

            Expr scale = Expr.RuntimeInput("GradientScale");
            if (spec.Maximize)
            {
                scale = Expr.Select(Expr.Binary(ExprOp.Equal, Expr.Hyperparameter("Maximize"), one), -scale, scale);
            }

            b.Scalar("GradientScale", scale, spec.Maximize ? "the runtime's gradient factor, negated when maximizing" : "the runtime's gradient factor (unscaling, clipping); 1 by default");

            // ---- Element: the fused update. ----
            b.Assign(Gradient, Expr.Var(Gradient) * Expr.Scalar("GradientScale"), "Unscale and clip the gradient in the same pass (a factor of 1 leaves it exact).");
            var rule = new List<string>();

            if (spec.WeightDecay is { Decoupled: false })
            {
                b.Scalar("WeightDecay", Expr.Hyperparameter("WeightDecay"), "λ");
                b.Assign(Gradient, Expr.Var(Gradient) + (Expr.Scalar("WeightDecay") * Expr.Var(Parameter)), "L2 weight decay: g ← g + λ·p.");
                rule.Add("g ← g + λ·p");
            }
            else if (spec.WeightDecay is { Decoupled: true })
            {
                b.Scalar("DecayFactor", one - (lr * Expr.Hyperparameter("WeightDecay")), "1 − η·λ");
                b.Assign(Parameter, Expr.Var(Parameter) * Expr.Scalar("DecayFactor"), "Decoupled weight decay: p ← p·(1 − ηλ).");
                rule.Add("p ← p·(1 − η·λ)");
            }

            Expr? firstCorrection = null;
            if (first is not null)
            {
                b.State("FirstMoment", "m", string.Empty, first.Input == MomentInput.AbsoluteGradient ? "The first moment m: a running average of |g|." : "The first moment m: a running average of g.");
                Expr beta1 = Expr.Hyperparameter("Beta1");
                AverageCoefficients(b, "FirstMoment", beta1, t, minT, first.Start, "β₁", "1");
                Expr input = first.Input == MomentInput.AbsoluteGradient ? Expr.Unary(ExprOp.Abs, Expr.Var(Gradient)) : Expr.Var(Gradient);
                string x = first.Input == MomentInput.AbsoluteGradient ? "|g|" : "g";
                b.Assign("m", (Expr.Scalar("FirstMomentDecay") * Expr.Var("m")) + (Expr.Scalar("FirstMomentWeight") * input),
                    $"First moment: m ← a₁·m + b₁·{x}.");
                rule.Add(minT ? $"m ← (1 − c₁)·m + c₁·{x},  c₁ = 1/min(t, N₁) = max(1/t, 1 − β₁)" : first.Start == MomentStart.FirstSample ? $"m ← β₁·m + (1 − β₁)·{x}  (m₁ = {x}₁)" : $"m ← β₁·m + (1 − β₁)·{x}");
                if (power && spec.NesterovMomentumDecay is null)
                {
                    firstCorrection = one - Expr.Binary(ExprOp.Pow, beta1, t);
                }
            }

            Expr? denominator = null;
            string denominatorMath = string.Empty;
            if (second is not null)
            {
                string s = second.Kind switch
                {
                    SecondMomentKind.Sum or SecondMomentKind.Mean => "s",
                    SecondMomentKind.InfinityNorm => "u",
                    _ => "v",
                };
                string summary = second.Kind switch
                {
                    SecondMomentKind.Sum => "The second moment s: the sum of every g².",
                    SecondMomentKind.Mean => "The second moment s: the sum of every g² (the denominator uses s/t).",
                    SecondMomentKind.InfinityNorm => "The infinity norm u: a decaying maximum of |g|.",
                    _ => "The second moment v: a running average of g².",
                };
                b.State("SecondMoment", s, second.HasInitialValue ? "InitialAccumulatorValue" : string.Empty, summary);
                Expr g = Expr.Var(Gradient);
                Expr sv = Expr.Var(s);
                Expr beta2 = Expr.Hyperparameter(second.PropertyName);
                switch (second.Kind)
                {
                    case SecondMomentKind.ExponentialAverage:
                        AverageCoefficients(b, "SecondMoment", beta2, t, minT, second.Start, "β₂", "2");
                        b.Assign(s, (Expr.Scalar("SecondMomentDecay") * sv) + (Expr.Scalar("SecondMomentWeight") * g * g), "Second moment: v ← a₂·v + b₂·g².");
                        rule.Add(minT ? "v ← (1 − c₂)·v + c₂·g²,  c₂ = 1/min(t, N₂) = max(1/t, 1 − β₂)" : second.Start == MomentStart.FirstSample ? "v ← β₂·v + (1 − β₂)·g²  (v₁ = g₁²)" : "v ← β₂·v + (1 − β₂)·g²");
                        break;
                    case SecondMomentKind.Sum:
                    case SecondMomentKind.Mean:
                        b.Assign(s, sv + (g * g), "Accumulate: s ← s + g².");
                        rule.Add("s ← s + g²");
                        break;
                    case SecondMomentKind.InfinityNorm:
                        b.Scalar("SecondMomentDecay", beta2, "β₂");
                        b.Scalar("Epsilon", Expr.Hyperparameter("Epsilon"), "ε");
                        b.Assign(s, Expr.Binary(ExprOp.Max, Expr.Scalar("SecondMomentDecay") * sv, Expr.Unary(ExprOp.Abs, g) + Expr.Scalar("Epsilon")),
                            "Infinity norm: u ← max(β₂·u, |g| + ε).");
                        rule.Add("u ← max(β₂·u, |g| + ε)");
                        break;
                }

                Expr source = sv;
                string sourceMath = s;
                if (second.Centered)
                {
                    b.State("GradientAverage", "gAvg", string.Empty, "The running average ḡ of g, for the centered second moment.");
                    b.Assign("gAvg", (Expr.Scalar("SecondMomentDecay") * Expr.Var("gAvg")) + (Expr.Scalar("SecondMomentWeight") * g), "Centered: ḡ ← a₂·ḡ + b₂·g.");
                    rule.Add("ḡ ← β₂·ḡ + (1 − β₂)·g");
                    source = source - (Expr.Var("gAvg") * Expr.Var("gAvg"));
                    sourceMath = $"({s} − ḡ²)";
                }

                if (spec.AmsGrad)
                {
                    b.State("MaxSecondMoment", "vMax", string.Empty, "AMSGrad's running maximum of the second moment.");
                    b.Assign("vMax", Expr.Binary(ExprOp.Max, Expr.Var("vMax"), Expr.Var(s)), "AMSGrad: v̂ ← max(v̂, v).");
                    rule.Add("v̂ ← max(v̂, v)");
                    source = Expr.Var("vMax");
                    sourceMath = "v̂";
                }

                if (second.Kind == SecondMomentKind.Mean)
                {
                    b.Scalar("InverseStepNumber", one / t, "1/t");
                    source = source * Expr.Scalar("InverseStepNumber");
                    sourceMath = $"({sourceMath}/t)";
                }

                if (second.Kind == SecondMomentKind.InfinityNorm)
                {
                    denominator = Expr.Var(s);
                    denominatorMath = "u";
                }
                else
                {
                    bool sqrt = second.Power == 0.5;
                    bool correct = power && secondAverages && spec.Epsilon is not { BeforeBiasCorrection: true };
                    EpsilonSpec? eps = spec.Epsilon;
                    bool inside = eps?.Placement == EpsilonPlacement.InsideSqrt;
                    Expr bc2 = one - Expr.Binary(ExprOp.Pow, beta2, t);

                    // The bias correction reaches the kernel as a reciprocal computed in double on the host, so the
                    // element pays a multiply instead of a division: at sizes that fit in cache the divider, not
                    // memory, bounds the step, and √ plus one division is all a rule with a denominator needs.
                    // With ε inside the root the correction applies to v itself (√(v/(1 − β₂ᵗ) + ε)).
                    bool rootedCorrection = sqrt && !inside;
                    if (correct)
                    {
                        b.Scalar("SecondMomentCorrectionInverse", one / (rootedCorrection ? Expr.Unary(ExprOp.Sqrt, bc2) : bc2),
                            rootedCorrection ? "1/√(1 − β₂ᵗ)" : "1/(1 − β₂ᵗ)");
                    }

                    Expr Root(Expr e) => sqrt ? Expr.Unary(ExprOp.Sqrt, e) : e;
                    Expr Correct(Expr e) => correct ? e * Expr.Scalar("SecondMomentCorrectionInverse") : e;
                    string RootMath(string e) => sqrt ? $"√{e}" : e;
                    string corrected = correct ? $"{sourceMath}/(1 − β₂ᵗ)" : sourceMath;
                    if (eps is not null && eps.Placement != EpsilonPlacement.Decoupled)
                    {
                        b.Scalar("Epsilon", Expr.Hyperparameter("Epsilon"), "ε");
                    }

                    Expr epsilon = Expr.Scalar("Epsilon");
                    switch (eps?.Placement)
                    {
                        case null:
                            denominator = Correct(Root(source));
                            denominatorMath = RootMath(Wrap(corrected));
                            break;
                        case EpsilonPlacement.OutsideSqrt:
                            denominator = Correct(Root(source)) + epsilon;
                            denominatorMath = $"{RootMath(Wrap(corrected))} + ε";
                            break;
                        case EpsilonPlacement.InsideSqrt:
                            // Without the root (power 1) ε inside and outside coincide: s + ε.
                            denominator = Root(Correct(source) + epsilon);
                            denominatorMath = sqrt ? $"√({corrected} + ε)" : $"{corrected} + ε";
                            break;
                        case EpsilonPlacement.Decoupled:
                            // 1 + √v̂/ε: the correction and 1/ε fold into one host scalar.
                            Expr inverse = one / Expr.Hyperparameter("Epsilon");
                            b.Scalar("DenominatorScale", correct ? inverse / (sqrt ? Expr.Unary(ExprOp.Sqrt, bc2) : bc2) : inverse,
                                !correct ? "1/ε" : sqrt ? "1/(ε·√(1 − β₂ᵗ))" : "1/(ε·(1 − β₂ᵗ))");
                            denominator = one + (Root(source) * Expr.Scalar("DenominatorScale"));
                            denominatorMath = $"1 + {RootMath(Wrap(corrected))}/ε";
                            break;
                    }
                }
            }

            // ---- Direction and step size. ----
            Expr stepSize = lr;
            string stepMath = spec.Epsilon?.Placement == EpsilonPlacement.Decoupled ? "η₀" : "η";
            if (spec.HasLearningRateDecay)
            {
                stepSize = stepSize / (one + ((t - one) * Expr.Hyperparameter("LearningRateDecay")));
                stepMath = "ηₜ";
                rule.Insert(0, "ηₜ = η / (1 + (t − 1)·δ)");
            }

            if (firstCorrection is not null)
            {
                stepSize = stepSize / firstCorrection;
            }

            Expr plainStepSize = stepSize;
            if (spec.Epsilon is { BeforeBiasCorrection: true } && second is not null)
            {
                stepSize = stepSize * Expr.Unary(ExprOp.Sqrt, one - Expr.Binary(ExprOp.Pow, Expr.Hyperparameter(second.PropertyName), t));
            }

            if (spec.Rectified is not null)
            {
                stepSize = Rectify(spec, b, rule, stepSize, plainStepSize);
            }

            string numeratorMath = first is null ? "g" : firstCorrection is not null ? "m/(1 − β₁ᵗ)" : "m";
            if (spec.Epsilon is { BeforeBiasCorrection: true })
            {
                numeratorMath = "m·√(1 − β₂ᵗ)/(1 − β₁ᵗ)";
            }

            Expr numerator = Expr.Var(first is null ? Gradient : "m");
            string direction = first is null ? Gradient : "m";
            string directionMath = numeratorMath;
            if (spec.DeltaAccumulator)
            {
                b.Local("denom", denominator!, "Denominator: " + denominatorMath + ".");
                DeltaAccumulatorStep(b, rule, stepSize, denominatorMath);
                b.RuleMath.AddRange(rule);
                return;
            }

            if (spec.NesterovMomentumDecay is not null)
            {
                b.Local("denom", denominator!, "Denominator: " + denominatorMath + ".");
                NesterovMomentumStep(b, rule, stepSize, denominatorMath);
                b.RuleMath.AddRange(rule);
                return;
            }

            if (denominator is not null && spec.Rectified is not null)
            {
                b.Local("denom", denominator, "Denominator: " + denominatorMath + ".");
                b.Local("dir", Expr.Select(Expr.Binary(ExprOp.Equal, Expr.Scalar("Rectified"), one), numerator / Expr.Var("denom"), numerator),
                    $"Direction: {direction}/denom when rectified, else {direction}.");
                direction = "dir";
                string threshold = Parser.Format(spec.Rectified.Threshold);
                string plain = first is null ? "g" : firstCorrection is not null ? "m/(1 − β₁ᵗ)" : "m";
                directionMath = $"rₜ·{Wrap(numeratorMath)} / ({denominatorMath})  when ρₜ > {threshold},  else p ← p − {stepMath}·{plain}";
            }
            else if (denominator is not null)
            {
                b.Local("denom", denominator, "Denominator: " + denominatorMath + ".");
                b.Local("dir", Expr.Binary(spec.Epsilon is null ? ExprOp.SafeDivide : ExprOp.Divide, numerator, Expr.Var("denom")),
                    spec.Epsilon is null ? $"Direction: {direction}/denom, with 0/0 := 0." : $"Direction: {direction}/denom.");
                direction = "dir";
                directionMath = $"{Wrap(numeratorMath)} / ({denominatorMath})";
            }

            if (momentum is not null)
            {
                b.State("MomentumBuffer", "b", string.Empty, "The momentum buffer b.");
                Expr mu = Expr.Hyperparameter("Momentum");
                if (momentum.Style == MomentumStyle.Classic)
                {
                    b.Scalar("MomentumDecay", mu, "μ");
                    b.Scalar("StepSize", stepSize, stepMath);
                    b.Assign("b", (Expr.Scalar("MomentumDecay") * Expr.Var("b")) + (Expr.Scalar("StepSize") * Expr.Var(direction)), "Classic momentum: b ← μ·b + η·u.");
                    b.Assign(Parameter, Expr.Var(Parameter) - Expr.Var("b"), "Step: p ← p − b.");
                    rule.Add($"b ← μ·b + {stepMath}·{Wrap(directionMath)}");
                    rule.Add("p ← p − b");
                }
                else
                {
                    Expr isFirst = Expr.Binary(ExprOp.Equal, t, one);
                    b.Scalar("MomentumDecay", Expr.Select(isFirst, Expr.Constant(0), mu), "μ (0 at t = 1: b₁ = u)");
                    b.Scalar("MomentumWeight", Expr.Select(isFirst, one, one - Expr.Hyperparameter("Dampening")), "1 − τ (1 at t = 1)");
                    b.Assign("b", (Expr.Scalar("MomentumDecay") * Expr.Var("b")) + (Expr.Scalar("MomentumWeight") * Expr.Var(direction)), "Momentum: b ← μ·b + (1 − τ)·u (b₁ = u).");
                    rule.Add($"b ← μ·b + (1 − τ)·{Wrap(directionMath)}  (b₁ = {Wrap(directionMath)})");
                    string step = "b";
                    if (momentum.Nesterov)
                    {
                        b.Scalar("Momentum", mu, "μ");
                        string target = direction == Gradient ? Gradient : direction;
                        b.Assign(target, Expr.Var(direction) + (Expr.Scalar("Momentum") * Expr.Var("b")), "Nesterov: u ← u + μ·b.");
                        step = target;
                        rule.Add($"p ← p − {stepMath}·({Wrap(directionMath)} + μ·b)");
                    }
                    else
                    {
                        rule.Add($"p ← p − {stepMath}·b");
                    }

                    b.Scalar("StepSize", stepSize, stepMath);
                    b.Assign(Parameter, Expr.Var(Parameter) - (Expr.Scalar("StepSize") * Expr.Var(step)), $"Step: p ← p − {stepMath}·{(step == "b" ? "b" : "u")}.");
                }
            }
            else
            {
                string stepSizeMath = StepSizeMath(stepMath, firstCorrection is not null, spec.Epsilon is { BeforeBiasCorrection: true });
                if (spec.Rectified is not null)
                {
                    stepSizeMath = $"{stepSizeMath}·rₜ when ρₜ > {Parser.Format(spec.Rectified.Threshold)}, else {StepSizeMath(stepMath, firstCorrection is not null, false)}";
                }

                b.Scalar("StepSize", stepSize, stepSizeMath);
                b.Assign(Parameter, Expr.Var(Parameter) - (Expr.Scalar("StepSize") * Expr.Var(direction)), $"Step: p ← p − {stepMath}·{direction}.");
                rule.Add($"p ← p − {stepMath}·{directionMath}");
            }

            b.RuleMath.AddRange(rule);
        }

        private static string StepSizeMath(string eta, bool corrected, bool before) =>
            before ? $"{eta}·√(1 − β₂ᵗ)/(1 − β₁ᵗ)" : corrected ? $"{eta}/(1 − β₁ᵗ)" : eta;

        private static string Wrap(string math) => math.IndexOfAny(new[] { ' ', '/', '+', '−', '·' }) >= 0 && !(math.StartsWith("(") && math.EndsWith(")")) ? $"({math})" : math;

        /// <summary>The (decay, weight) pair of a running average: (β, 1 − β), or the 1/min(t, N) form, or first-sample start.</summary>
        private static void AverageCoefficients(ProgramBuilder b, string prefix, Expr beta, Expr t, bool minT, MomentStart start, string symbol, string index)
        {
            Expr one = Expr.Constant(1);
            if (minT)
            {
                b.Host(prefix + "Rate", Expr.Binary(ExprOp.Max, one / t, one - beta), $"c{Sub(index)} = 1/min(t, N{Sub(index)}) = max(1/t, 1 − {symbol})");
                b.Scalar(prefix + "Decay", one - Expr.Host(prefix + "Rate"), $"1 − c{Sub(index)}");
                b.Scalar(prefix + "Weight", Expr.Host(prefix + "Rate"), $"c{Sub(index)}");
            }
            else if (start == MomentStart.FirstSample)
            {
                Expr isFirst = Expr.Binary(ExprOp.Equal, t, one);
                b.Scalar(prefix + "Decay", Expr.Select(isFirst, Expr.Constant(0), beta), $"{symbol} (0 at t = 1)");
                b.Scalar(prefix + "Weight", Expr.Select(isFirst, one, one - beta), $"1 − {symbol} (1 at t = 1)");
            }
            else
            {
                b.Scalar(prefix + "Decay", beta, symbol);
                b.Scalar(prefix + "Weight", one - beta, $"1 − {symbol}");
            }
        }

        private static string Sub(string index) => index == "1" ? "₁" : "₂";

        private static KernelModel KernelOf(UpdateProgram program)
        {
            var states = program.States.Select(s => s.Symbol).ToEquatableArray();
            var scalars = program.KernelScalars.Select(s => s.Name).ToEquatableArray();
            var written = new HashSet<string>(program.Body.Where(s => !s.DeclaresLocal).Select(s => s.Target));
            int bytesRead = 4 * (2 + states.Count);
            int bytesWritten = 4 * (1 + states.Count(written.Contains));
            var canonical = new StringBuilder();
            canonical.Append(string.Join(",", states)).Append('|').Append(string.Join(",", scalars)).Append('|');
            foreach (ElementStatement statement in program.Body)
            {
                canonical.Append(statement.Target).Append('=').Append(ExprText.Canonical(statement.Value)).Append(';');
            }

            string name = "UpdateKernel_" + Hash.Fnv32(canonical.ToString()).ToString("x8");
            return new KernelModel(name, states, scalars, program.Body, bytesRead, bytesWritten);
        }

        private static string Canonical(UpdateProgram program)
        {
            var text = new StringBuilder();
            foreach (HyperparameterDecl h in program.Hyperparameters)
            {
                text.Append(h.Name).Append(',');
            }

            text.Append('|');
            foreach (StateDecl s in program.States)
            {
                text.Append(s.Name).Append(':').Append(s.Symbol).Append(':').Append(s.InitialValue).Append(',');
            }

            if (program.HostStates.Count > 0)
            {
                text.Append("|host:");
                foreach (HostStateDecl h in program.HostStates)
                {
                    text.Append(h.Name).Append(':').Append(ExprText.DoubleLiteral(h.InitialValue)).Append(':').Append(ExprText.Canonical(h.Advance)).Append(',');
                }
            }

            text.Append('|');
            foreach (HostStatement h in program.Host)
            {
                text.Append(h.Name).Append('=').Append(ExprText.Canonical(h.Value)).Append(h.IsKernelScalar ? "!" : string.Empty).Append(';');
            }

            text.Append('|');
            foreach (ElementStatement e in program.Body)
            {
                text.Append(e.Target).Append('=').Append(ExprText.Canonical(e.Value)).Append(';');
            }

            return text.ToString();
        }

        /// <summary>Collects a program in order, keeping each kernel scalar once.</summary>
        private sealed class ProgramBuilder
        {
            private readonly List<HostStatement> _host = new();
            private readonly List<ElementStatement> _body = new();

            public List<HyperparameterDecl> Hyperparameters { get; } = new();

            public List<StateDecl> States { get; } = new();

            public List<HostStateDecl> HostStates { get; } = new();

            public List<string> RuleMath { get; } = new();

            public void Hyperparameter(string name, string symbol, double value, string range, string summary, bool isBoolean = false) =>
                Hyperparameters.Add(new HyperparameterDecl(name, symbol, value, range, isBoolean, summary));

            public void State(string name, string symbol, string initial, string summary) =>
                States.Add(new StateDecl(name, symbol, initial, summary));

            public void Host(string name, Expr value, string comment) => _host.Add(new HostStatement(name, value, false, comment));

            public void Scalar(string name, Expr value, string comment)
            {
                if (!_host.Any(h => h.Name == name))
                {
                    _host.Add(new HostStatement(name, value, true, comment));
                }
            }

            public void Assign(string target, Expr value, string comment) => _body.Add(new ElementStatement(target, value, false, comment));

            public void Local(string target, Expr value, string comment) => _body.Add(new ElementStatement(target, value, true, comment));

            public void HostState(string name, string symbol, double initial, Expr advance, string summary) =>
                HostStates.Add(new HostStateDecl(name, symbol, initial, advance, summary));

            public UpdateProgram ToProgram() => new(
                Hyperparameters.ToEquatableArray(),
                States.ToEquatableArray(),
                _host.ToEquatableArray(),
                _body.ToEquatableArray(),
                RuleMath.ToEquatableArray())
            {
                HostStates = HostStates.ToEquatableArray(),
            };
        }
    }
}
